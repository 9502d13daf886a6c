#!/usr/bin/env python3
"""Fails unless README.md quotes the example file verbatim in a ```c block."""
import sys

readme, example = (open(path).read() for path in sys.argv[1:3])
if "```c\n" + example + "```" not in readme:
    sys.exit("README.md does not quote %s verbatim; paste the file again" % sys.argv[2])
