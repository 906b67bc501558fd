"""Measured speed (never asserted in tests): one module per suite, and what they share.

timing.py       the one timing helper (`timed`, `time_call`)
record.py       the machine, its load and the versions every JSON records
scans.py        `stylelab bench scans`: selective scan and WKV, three tiers
adain.py        `stylelab bench adain`: AdaIN at 512/1024 against the peer package
adain_paths.py  the stylization paths that suite times
adain_report.py its summary lines and figure
memory.py       peak memory of one stylization, in a fresh process
quality.py      SNR/PSNR against a reference, fine-detail measure
"""
