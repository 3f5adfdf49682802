# SPDX-License-Identifier: ISC
"""A PEP 517 build backend in the standard library, so that
`pip install ./clients/python` works offline: pip's isolated build
environment has nothing to download (pyproject.toml requires nothing).

It builds a pure-Python wheel of the drover package (and an sdist); that is
all this package needs from a build system.
"""
import base64
import hashlib
import io
import os
import re
import tarfile
import zipfile

NAME = "drover"
HERE = os.path.dirname(os.path.abspath(__file__))


def _version():
    with open(os.path.join(HERE, NAME, "__init__.py")) as f:
        return re.search(r'^__version__ = "([^"]+)"', f.read(), re.M).group(1)


def _metadata(version):
    with open(os.path.join(HERE, "README.md")) as f:
        readme = f.read()
    return ("Metadata-Version: 2.1\nName: %s\nVersion: %s\n"
            "Summary: Clients, a concurrent.futures executor and the worker runtime for "
            "drover's message-mode pools\nLicense: ISC\nRequires-Python: >=3.9\n"
            "Classifier: Programming Language :: Python :: 3\n"
            "Classifier: Operating System :: POSIX :: Linux\n"
            "Description-Content-Type: text/markdown\n\n%s" % (NAME, version, readme))


def _sources():
    pkg = os.path.join(HERE, NAME)
    return sorted(os.path.join(NAME, f) for f in os.listdir(pkg) if f.endswith(".py"))


def _record_line(path, data):
    digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
    return "%s,sha256=%s,%d" % (path, digest, len(data))


def get_requires_for_build_wheel(config_settings=None):
    return []


def get_requires_for_build_sdist(config_settings=None):
    return []


def build_wheel(wheel_directory, config_settings=None, metadata_directory=None):
    version = _version()
    info = "%s-%s.dist-info" % (NAME, version)
    name = "%s-%s-py3-none-any.whl" % (NAME, version)
    files = []
    for src in _sources():
        with open(os.path.join(HERE, src), "rb") as f:
            files.append((src, f.read()))
    files.append((info + "/METADATA", _metadata(version).encode()))
    files.append((info + "/WHEEL", b"Wheel-Version: 1.0\nGenerator: drover_build\n"
                                   b"Root-Is-Purelib: true\nTag: py3-none-any\n"))
    record = [_record_line(p, d) for p, d in files] + [info + "/RECORD,,"]
    files.append((info + "/RECORD", ("\n".join(record) + "\n").encode()))
    with zipfile.ZipFile(os.path.join(wheel_directory, name), "w", zipfile.ZIP_DEFLATED) as z:
        for path, data in files:
            zi = zipfile.ZipInfo(path, date_time=(2020, 1, 1, 0, 0, 0))
            zi.external_attr = 0o644 << 16
            zi.compress_type = zipfile.ZIP_DEFLATED
            z.writestr(zi, data)
    return name


def build_sdist(sdist_directory, config_settings=None):
    version = _version()
    base = "%s-%s" % (NAME, version)
    name = base + ".tar.gz"
    with tarfile.open(os.path.join(sdist_directory, name), "w:gz") as t:
        for rel in _sources() + ["pyproject.toml", "README.md", "drover_build.py"]:
            t.add(os.path.join(HERE, rel), arcname=base + "/" + rel)
        pkg = _metadata(version).encode()
        ti = tarfile.TarInfo(base + "/PKG-INFO")
        ti.size = len(pkg)
        t.addfile(ti, io.BytesIO(pkg))
    return name
