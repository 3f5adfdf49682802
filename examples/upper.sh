#!/bin/sh
# SPDX-License-Identifier: ISC
# A drover worker in shell: with framing = line and work_fd = stdio each
# request is one line on stdin and the reply is one line on stdout.
#
#   [pool:upper]
#   command = /bin/sh upper.sh
#   listen  = /run/drover/upper.sock
#   framing = line
#   work_fd = stdio
while IFS= read -r line; do
    printf '%s\n' "$line" | tr '[:lower:]' '[:upper:]'
done
