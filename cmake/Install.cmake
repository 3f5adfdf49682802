# SPDX-License-Identifier: ISC
#
# Installation layout, systemd units, man pages and the Debian package.
#
# This one file has three entry points:
#
#  1. include()d by CMakeLists.txt at configure time (the bottom of this
#     file): install rules, the man page target, CPack settings, the
#     packaging test.
#  2. `cmake -DDROVER_MAN_KEYS=... -P Install.cmake` at build time: writes
#     drover.ini(5) with the key reference that `droverd --keys=man` prints,
#     so the page cannot drift from the key table in common/keys.c.
#  3. include()d by cmake_install.cmake at install time (DROVER_INSTALL_STEP):
#     installs the files whose text names install paths (units, default
#     config, logrotate snippet). Their sources name the paths of a /usr
#     install (the .deb); the real paths are only known at install time,
#     because `cmake --install --prefix` and cpack choose the prefix then.
#
# Binaries install from their own CMakeLists.txt (droverd to sbin, drover to
# bin, example workers to libexec/drover).

# --------------------------------------------------------------------------
# 2. Build time: drover.ini.5 = drover.ini.5.in with its @KEYS@ line replaced.
if(DEFINED DROVER_MAN_KEYS)
  execute_process(COMMAND "${DROVER_MAN_KEYS}" --keys=man
                  OUTPUT_VARIABLE keys RESULT_VARIABLE rc)
  if(NOT rc EQUAL 0 OR keys STREQUAL "")
    message(FATAL_ERROR "${DROVER_MAN_KEYS} --keys=man failed (${rc})")
  endif()
  file(READ "${DROVER_MAN_IN}" page)
  string(REPLACE "@KEYS@\n" "${keys}" page "${page}")
  if(page MATCHES "@KEYS@")
    message(FATAL_ERROR "${DROVER_MAN_IN}: no line '@KEYS@' to replace")
  endif()
  file(WRITE "${DROVER_MAN_OUT}.tmp" "${page}")
  file(RENAME "${DROVER_MAN_OUT}.tmp" "${DROVER_MAN_OUT}")
  return()
endif()

# --------------------------------------------------------------------------
# 2b. Build time: DROVER_GZIP_OUT = `gzip -9n` of DROVER_GZIP_IN (man pages
#     and the changelog, as Debian ships them: best compression, no name or
#     time stamp in the header, so the package is reproducible).
if(DEFINED DROVER_GZIP_OUT)
  execute_process(COMMAND gzip -9n -c "${DROVER_GZIP_IN}" OUTPUT_FILE "${DROVER_GZIP_OUT}.tmp"
                  RESULT_VARIABLE rc)
  if(NOT rc EQUAL 0)
    message(FATAL_ERROR "gzip -9n ${DROVER_GZIP_IN} failed (${rc})")
  endif()
  file(RENAME "${DROVER_GZIP_OUT}.tmp" "${DROVER_GZIP_OUT}")
  return()
endif()

# --------------------------------------------------------------------------
# 3. Install time.
if(DEFINED DROVER_INSTALL_STEP)
  # A directory of the install: absolute as configured, else under the prefix.
  macro(drover_dir out rel)
    if(IS_ABSOLUTE "${rel}")
      set(${out} "${rel}")
    else()
      set(${out} "${CMAKE_INSTALL_PREFIX}/${rel}")
    endif()
  endmacro()
  drover_dir(sbindir "${DROVER_SBINDIR}")
  drover_dir(bindir "${DROVER_BINDIR}")
  drover_dir(libexecdir "${DROVER_LIBEXECDIR}")
  drover_dir(unitdir "${DROVER_SYSTEMD_UNITDIR}")
  # GNUInstallDirs' rule for sysconfdir: /etc for the / and /usr prefixes,
  # /etc/opt/... for /opt/..., else PREFIX/etc.
  if(IS_ABSOLUTE "${DROVER_SYSCONFDIR}")
    set(sysconfdir "${DROVER_SYSCONFDIR}")
  elseif(CMAKE_INSTALL_PREFIX MATCHES "^/(usr/?)?$")
    set(sysconfdir "/${DROVER_SYSCONFDIR}")
  elseif(CMAKE_INSTALL_PREFIX MATCHES "^/opt/")
    set(sysconfdir "/${DROVER_SYSCONFDIR}${CMAKE_INSTALL_PREFIX}")
  else()
    set(sysconfdir "${CMAKE_INSTALL_PREFIX}/${DROVER_SYSCONFDIR}")
  endif()
  string(REGEX REPLACE "/+$" "" sysconfdir "${sysconfdir}")
  set(confdir "${sysconfdir}/drover")

  # Copy SRC to DEST_DIR/NAME with the /usr install's paths replaced.
  # Staged per destination, so that installs to two places at once do not mix.
  string(MD5 stage "$ENV{DESTDIR}|${CMAKE_INSTALL_PREFIX}")
  set(stage "${DROVER_BINARY_DIR}/install-stage/${stage}")
  function(drover_install_edited src dest_dir name)
    file(READ "${src}" text)
    string(REPLACE "/usr/sbin/" "${sbindir}/" text "${text}")
    string(REPLACE "/usr/bin/" "${bindir}/" text "${text}")
    string(REPLACE "/usr/libexec/drover/" "${libexecdir}/drover/" text "${text}")
    string(REPLACE "/etc/drover" "${confdir}" text "${text}")
    string(REPLACE "/etc/logrotate.d/" "${sysconfdir}/logrotate.d/" text "${text}")
    file(MAKE_DIRECTORY "${stage}")
    file(WRITE "${stage}/${name}" "${text}")
    file(INSTALL DESTINATION "${dest_dir}" TYPE FILE PERMISSIONS OWNER_READ OWNER_WRITE
         GROUP_READ WORLD_READ FILES "${stage}/${name}")
  endfunction()

  drover_install_edited("${DROVER_SOURCE_DIR}/systemd/drover.service" "${unitdir}" drover.service)
  drover_install_edited("${DROVER_SOURCE_DIR}/systemd/drover.socket" "${unitdir}" drover.socket)
  drover_install_edited("${DROVER_SOURCE_DIR}/conf/install/drover.ini" "${confdir}" drover.ini)
  drover_install_edited("${DROVER_SOURCE_DIR}/conf/install/conf.d/echo.ini" "${confdir}/conf.d"
                        echo.ini)
  drover_install_edited("${DROVER_SOURCE_DIR}/systemd/drover.logrotate"
                        "${sysconfdir}/logrotate.d" drover)

  # A stripped install (cpack, `cmake --install --strip`): also drop the
  # .comment section (compiler version strings) that strip(1) keeps, as
  # Debian's dh_strip does.
  if(CMAKE_INSTALL_DO_STRIP AND DROVER_OBJCOPY)
    foreach(f "${sbindir}/droverd" "${bindir}/drover" "${libexecdir}/drover/echo-worker"
              "${libexecdir}/drover/cpu-worker")
      if(EXISTS "$ENV{DESTDIR}${f}")
        execute_process(COMMAND "${DROVER_OBJCOPY}" --remove-section=.comment
                                --remove-section=.note "$ENV{DESTDIR}${f}" RESULT_VARIABLE rc)
        if(NOT rc EQUAL 0)
          message(FATAL_ERROR "objcopy --remove-section=.comment ${f} failed")
        endif()
      endif()
    endforeach()
  endif()
  return()
endif()

# --------------------------------------------------------------------------
# 1. Configure time.

# Where systemd looks for units, tmpfiles.d and sysusers.d: what systemd's
# pkg-config file says (absolute: /lib/systemd/system on Debian 12), else
# under the prefix.
pkg_get_variable(_drover_pc_unitdir systemd systemdsystemunitdir)
pkg_get_variable(_drover_pc_tmpfilesdir systemd tmpfilesdir)
pkg_get_variable(_drover_pc_sysusersdir systemd sysusersdir)
foreach(_v unitdir:lib/systemd/system tmpfilesdir:lib/tmpfiles.d sysusersdir:lib/sysusers.d)
  string(REPLACE ":" ";" _v "${_v}")
  list(GET _v 0 _name)
  list(GET _v 1 _fallback)
  if(_drover_pc_${_name} STREQUAL "")
    set(_drover_pc_${_name} "${_fallback}")
  endif()
endforeach()
set(DROVER_SYSTEMD_UNITDIR "${_drover_pc_unitdir}" CACHE STRING
    "systemd system unit directory (absolute, or relative to the prefix)")
set(DROVER_TMPFILESDIR "${_drover_pc_tmpfilesdir}" CACHE STRING
    "tmpfiles.d directory (absolute, or relative to the prefix)")
set(DROVER_SYSUSERSDIR "${_drover_pc_sysusersdir}" CACHE STRING
    "sysusers.d directory (absolute, or relative to the prefix)")

# Man pages: droverd(8) and drover(1) as written; drover.ini(5) generated;
# all three installed gzipped (man reads them so; Debian policy 12.1).
set(_drover_man_out "${CMAKE_BINARY_DIR}/man/drover.ini.5")
add_custom_command(
  OUTPUT "${_drover_man_out}"
  COMMAND ${CMAKE_COMMAND} -E make_directory "${CMAKE_BINARY_DIR}/man"
  COMMAND ${CMAKE_COMMAND} "-DDROVER_MAN_KEYS=$<TARGET_FILE:droverd>"
          "-DDROVER_MAN_IN=${CMAKE_SOURCE_DIR}/docs/man/drover.ini.5.in"
          "-DDROVER_MAN_OUT=${_drover_man_out}" -P "${CMAKE_CURRENT_LIST_FILE}"
  DEPENDS droverd "${CMAKE_SOURCE_DIR}/docs/man/drover.ini.5.in" "${CMAKE_CURRENT_LIST_FILE}"
  COMMENT "Generating drover.ini.5 from droverd --keys=man"
  VERBATIM)
# The Debian changelog (the package's history; its first version must be
# the project's) and the machine-readable copyright file, in cmake/debian/.
file(STRINGS "${CMAKE_SOURCE_DIR}/cmake/debian/changelog" _drover_chl LIMIT_COUNT 1)
if(NOT _drover_chl MATCHES "^drover \\(${PROJECT_VERSION}\\) ")
  message(FATAL_ERROR "cmake/debian/changelog: the first entry (${_drover_chl}) is not "
                      "version ${PROJECT_VERSION} of project(); add an entry for it")
endif()
set(_drover_gz)
foreach(_f docs/man/drover.1 "${_drover_man_out}" docs/man/droverd.8 cmake/debian/changelog)
  get_filename_component(_n "${_f}" NAME)
  get_filename_component(_f "${_f}" ABSOLUTE BASE_DIR "${CMAKE_SOURCE_DIR}")
  add_custom_command(
    OUTPUT "${CMAKE_BINARY_DIR}/man/${_n}.gz"
    COMMAND ${CMAKE_COMMAND} -E make_directory "${CMAKE_BINARY_DIR}/man"
    COMMAND ${CMAKE_COMMAND} "-DDROVER_GZIP_IN=${_f}" "-DDROVER_GZIP_OUT=${CMAKE_BINARY_DIR}/man/${_n}.gz"
            -P "${CMAKE_CURRENT_LIST_FILE}"
    DEPENDS "${_f}"
    VERBATIM)
  list(APPEND _drover_gz "${CMAKE_BINARY_DIR}/man/${_n}.gz")
endforeach()
add_custom_target(drover-man ALL DEPENDS "${_drover_man_out}" ${_drover_gz})
install(FILES "${CMAKE_BINARY_DIR}/man/drover.1.gz" DESTINATION ${CMAKE_INSTALL_MANDIR}/man1)
install(FILES "${CMAKE_BINARY_DIR}/man/drover.ini.5.gz" DESTINATION ${CMAKE_INSTALL_MANDIR}/man5)
install(FILES "${CMAKE_BINARY_DIR}/man/droverd.8.gz" DESTINATION ${CMAKE_INSTALL_MANDIR}/man8)
install(FILES "${CMAKE_BINARY_DIR}/man/changelog.gz" cmake/debian/copyright
        DESTINATION ${CMAKE_INSTALL_DOCDIR})
install(FILES cmake/debian/lintian-overrides DESTINATION ${CMAKE_INSTALL_DATAROOTDIR}/lintian/overrides
        RENAME drover)
# drover_worker.h is not a library's header: it is example code, a
# header-only helper that a C worker copies into its own source (it says
# so), shown in use by echo-worker.c. So both go with the other examples,
# not to /usr/include (which would need a -dev package for one file).
install(FILES examples/drover_worker.h examples/echo-worker.c
        DESTINATION ${CMAKE_INSTALL_DOCDIR}/examples)

# tmpfiles.d and sysusers.d name no install paths: installed as they are.
# Shell completion for drover: verbs, options, pools and POOL:SLOT (completions/).
install(FILES completions/drover.bash
        DESTINATION ${CMAKE_INSTALL_DATAROOTDIR}/bash-completion/completions RENAME drover)
install(FILES completions/_drover DESTINATION ${CMAKE_INSTALL_DATAROOTDIR}/zsh/vendor-completions)
install(FILES systemd/drover.tmpfiles.conf DESTINATION "${DROVER_TMPFILESDIR}" RENAME drover.conf)
install(FILES systemd/drover.sysusers.conf DESTINATION "${DROVER_SYSUSERSDIR}" RENAME drover.conf)

# Units, default configuration (not conf/drover.ini: that one is for a source
# checkout and names ../build) and the logrotate snippet: see part 3.
install(CODE "
  set(DROVER_INSTALL_STEP ON)
  set(DROVER_SOURCE_DIR \"${CMAKE_SOURCE_DIR}\")
  set(DROVER_BINARY_DIR \"${CMAKE_BINARY_DIR}\")
  set(DROVER_SBINDIR \"${CMAKE_INSTALL_SBINDIR}\")
  set(DROVER_BINDIR \"${CMAKE_INSTALL_BINDIR}\")
  set(DROVER_LIBEXECDIR \"${CMAKE_INSTALL_LIBEXECDIR}\")
  set(DROVER_SYSCONFDIR \"${CMAKE_INSTALL_SYSCONFDIR}\")
  set(DROVER_SYSTEMD_UNITDIR \"${DROVER_SYSTEMD_UNITDIR}\")
  set(DROVER_OBJCOPY \"${CMAKE_OBJCOPY}\")
  include(\"${CMAKE_CURRENT_LIST_FILE}\")
")

# --------------------------------------------------------------------------
# The Debian package: `cpack -G DEB` in the build directory.
#
# It always installs under /usr (configuration in /etc), whatever prefix the
# build was configured with. The maintainer scripts create the drover system
# user and group (from the shipped sysusers.d file, or with adduser), enable
# and start drover.service like dh_installsystemd does, and on purge remove
# the user, group, logs and what systemd's helpers recorded.
set(_drover_pkg_prefix /usr)
foreach(_d DROVER_TMPFILESDIR DROVER_SYSUSERSDIR)
  if(IS_ABSOLUTE "${${_d}}")
    set(_drover_pkg_${_d} "${${_d}}/drover.conf")
  else()
    set(_drover_pkg_${_d} "${_drover_pkg_prefix}/${${_d}}/drover.conf")
  endif()
endforeach()
set(_drover_deb "${CMAKE_BINARY_DIR}/deb")

file(CONFIGURE OUTPUT "${_drover_deb}/postinst" @ONLY CONTENT [[#!/bin/sh
# drover postinst: the drover user and group, runtime and log directories,
# and the service enabled and started as dh_installsystemd would.
set -e

if [ "$1" = configure ]; then
    if command -v systemd-sysusers >/dev/null 2>&1; then
        systemd-sysusers @_drover_pkg_DROVER_SYSUSERSDIR@
    elif ! getent passwd drover >/dev/null; then
        adduser --system --group --no-create-home --home /nonexistent \
            --gecos "drover process supervisor" drover
    fi
    if command -v systemd-tmpfiles >/dev/null 2>&1; then
        systemd-tmpfiles --create @_drover_pkg_DROVER_TMPFILESDIR@ || true
    else
        install -d -m 0755 /run/drover
        install -d -m 0750 /var/log/drover
    fi
fi

if [ "$1" = configure ] || [ "$1" = abort-upgrade ] || [ "$1" = abort-deconfigure ] ||
   [ "$1" = abort-remove ]; then
    if command -v deb-systemd-helper >/dev/null 2>&1; then
        deb-systemd-helper unmask drover.service >/dev/null || true
        if deb-systemd-helper --quiet was-enabled drover.service; then
            deb-systemd-helper enable drover.service >/dev/null || true
        else
            deb-systemd-helper update-state drover.service >/dev/null || true
        fi
    fi
    if [ -d /run/systemd/system ]; then
        systemctl --system daemon-reload >/dev/null || true
        if [ -n "$2" ]; then action=restart; else action=start; fi
        deb-systemd-invoke $action drover.service >/dev/null || true
    fi
fi
exit 0
]])

file(CONFIGURE OUTPUT "${_drover_deb}/prerm" @ONLY CONTENT [[#!/bin/sh
# drover prerm: stop the service before its files go.
set -e
if [ -d /run/systemd/system ] && [ "$1" = remove ]; then
    deb-systemd-invoke stop drover.service >/dev/null || true
fi
exit 0
]])

file(CONFIGURE OUTPUT "${_drover_deb}/postrm" @ONLY CONTENT [[#!/bin/sh
# drover postrm: on purge, remove everything the package made at run time:
# logs, runtime directory, systemd helper state, the drover user and group.
set -e
if [ -d /run/systemd/system ]; then
    systemctl --system daemon-reload >/dev/null || true
fi
if [ "$1" = remove ] && command -v deb-systemd-helper >/dev/null 2>&1; then
    deb-systemd-helper mask drover.service >/dev/null || true
fi
if [ "$1" = purge ]; then
    if command -v deb-systemd-helper >/dev/null 2>&1; then
        deb-systemd-helper purge drover.service >/dev/null || true
        deb-systemd-helper unmask drover.service >/dev/null || true
    fi
    rm -rf /var/log/drover
    # droverd removes its sockets when it exits, but keeps its start lock
    # (drover.sock.lock: removing it while a droverd runs could let a second
    # one lock a new file); with the package gone no droverd is left to race.
    rm -f /run/drover/drover.sock.lock
    # a busy /run/drover (sockets of a droverd still running) stays.
    rmdir /run/drover 2>/dev/null || true
    # dpkg removed the conffiles; what is left is empty or the admin's own.
    rmdir /etc/drover/conf.d /etc/drover 2>/dev/null || true
    if getent passwd drover >/dev/null; then
        userdel drover || echo "drover postrm: could not remove the user drover" >&2
    fi
    if getent group drover >/dev/null; then
        groupdel drover || echo "drover postrm: could not remove the group drover" >&2
    fi
fi
exit 0
]])

file(CONFIGURE OUTPUT "${_drover_deb}/conffiles" CONTENT [[/etc/drover/drover.ini
/etc/drover/conf.d/echo.ini
/etc/logrotate.d/drover
]])

set(CPACK_GENERATOR DEB)
set(CPACK_PACKAGE_NAME drover)
set(CPACK_PACKAGE_VERSION "${PROJECT_VERSION}")
set(CPACK_PACKAGE_CONTACT
    "drover maintainers <maintainers@users.noreply.r-seed-3b2713d6.example>")
set(CPACK_PACKAGE_DESCRIPTION_SUMMARY "process supervisor with worker pools and work routing")
# The extended description; the first line of the field is the summary above.
set(CPACK_DEBIAN_PACKAGE_DESCRIPTION
    "droverd forks and watches pools of worker processes (one per CPU core by
default), restarts a crashed worker without disturbing the others, and
routes work to the workers over Unix or TCP sockets. It is configured by
ini files, controlled with the drover CLI, and runs as a systemd service
(Type=notify, socket activation) or as a container's PID 1.")
set(CPACK_DEBIAN_PACKAGE_SECTION admin)
set(CPACK_DEBIAN_PACKAGE_PRIORITY optional)
set(CPACK_DEBIAN_FILE_NAME DEB-DEFAULT)
set(CPACK_STRIP_FILES ON)
# Absolute destinations (/etc, /lib/systemd/system) need DESTDIR staging.
set(CPACK_SET_DESTDIR ON)
set(CPACK_INSTALL_PREFIX "${_drover_pkg_prefix}")
set(CPACK_PACKAGING_INSTALL_PREFIX "${_drover_pkg_prefix}")
# Library dependencies (libevent, libevent_openssl, libssl, libinih) from dpkg-shlibdeps when it is
# there (dpkg-dev); else the Debian 12 names, written out. adduser: postinst
# falls back to it where systemd-sysusers is missing (containers without
# systemd); passwd: postrm's userdel and groupdel.
# Other parts of the tree that install into the package add what they need
# at run time with
#   set_property(GLOBAL APPEND PROPERTY DROVER_DEB_DEPENDS "python3 (>= 3.11)")
# (e.g. clients/python for its package) before this file is included.
get_property(_drover_deb_extra GLOBAL PROPERTY DROVER_DEB_DEPENDS)
list(REMOVE_DUPLICATES _drover_deb_extra)
string(REPLACE ";" ", " _drover_deb_extra "${_drover_deb_extra}")
set(_drover_deb_depends "adduser, passwd")
if(_drover_deb_extra)
  string(APPEND _drover_deb_depends ", ${_drover_deb_extra}")
endif()
find_program(DROVER_DPKG_SHLIBDEPS dpkg-shlibdeps)
if(DROVER_DPKG_SHLIBDEPS)
  set(CPACK_DEBIAN_PACKAGE_SHLIBDEPS ON)
  set(CPACK_DEBIAN_PACKAGE_DEPENDS "${_drover_deb_depends}")
else()
  set(CPACK_DEBIAN_PACKAGE_DEPENDS
      "libc6, libevent-core-2.1-7 (>= 2.1.8), libevent-openssl-2.1-7 (>= 2.1.8), libssl3, libinih1, libncursesw6 (>= 6), libtinfo6 (>= 6), ${_drover_deb_depends}")
endif()
# python3: the Python client package (clients/python) installed with drover;
# droverd and drover do not need it, so it is recommended, not required.
set(CPACK_DEBIAN_PACKAGE_RECOMMENDS "logrotate, python3")
set(CPACK_DEBIAN_PACKAGE_CONTROL_EXTRA
    "${_drover_deb}/postinst;${_drover_deb}/prerm;${_drover_deb}/postrm;${_drover_deb}/conffiles")
set(CPACK_DEBIAN_PACKAGE_CONTROL_STRICT_PERMISSION TRUE)
# The binaries were compiled with their default config path; a package of a
# build whose default is not /etc/drover/drover.ini (e.g. the /usr/local of
# a plain `cmake -S . -B build`) would ship a `drover check` that looks in
# the wrong place. cpack reads this file before packaging, and stops.
file(CONFIGURE OUTPUT "${_drover_deb}/cpack-config.cmake" @ONLY CONTENT [[
if(CPACK_GENERATOR STREQUAL "DEB" AND NOT "@DROVER_CONFIG_DEFAULT@" STREQUAL "/etc/drover/drover.ini")
  message(FATAL_ERROR "drover: this build's default config is @DROVER_CONFIG_DEFAULT@, not "
    "/etc/drover/drover.ini; configure the build for the package with -DCMAKE_INSTALL_PREFIX=/usr")
endif()
]])
set(CPACK_PROJECT_CONFIG_FILE "${_drover_deb}/cpack-config.cmake")
include(CPack)

# The packaging test builds, installs and purges the .deb: `ctest -L packaging`.
if(DROVER_TESTS)
  add_test(NAME packaging.deb COMMAND bash "${CMAKE_SOURCE_DIR}/tests/packaging/deb.sh")
  set_tests_properties(packaging.deb PROPERTIES
    LABELS packaging
    # A /usr build, cpack, lintian (~30 s alone), dpkg -i/-r/-P: 3 minutes
    # on a loaded 2-core machine.
    TIMEOUT 600
    SKIP_RETURN_CODE 77
    RESOURCE_LOCK drover-system-user
    ENVIRONMENT "SRC=${CMAKE_SOURCE_DIR};BIN=${CMAKE_BINARY_DIR}/bin")
endif()
