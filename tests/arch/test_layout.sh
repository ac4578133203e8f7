#!/bin/bash
# The shape of user/ (docs/architecture.md): layers, writers independent of
# each other, no dependency cycles, short functions. Needs `make` first.
exec /usr/bin/python3 -B "$(dirname "$0")/check_layout.py"
