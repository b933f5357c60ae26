"""Prints the diff of every surviving mutant named on stdin (`mutmut results` lines), for the
mutmut run in the current folder: one process for all, where `mutmut show` costs a start-up each."""

import sys

from mutmut.__main__ import find_mutant, get_diff_for_mutant, status_by_exit_code

names = [
    line.split(": ")[0].strip()
    for line in sys.stdin
    if line.rstrip().endswith((": survived", ": no tests"))
]
for name in names:
    m = find_mutant(name)
    print(f"# {name}: {status_by_exit_code[m.exit_code_by_key[name]]}")
    print(get_diff_for_mutant(name, path=m.path))
