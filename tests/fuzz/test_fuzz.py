"""The fuzzer of /dev/dmakN (dmakfuzz.py) as one test.

Sized by DMAK_FUZZ_PROCS, DMAK_FUZZ_CALLS and DMAK_FUZZ_KILLS; replayed
with DMAK_FUZZ_SEED; reports in DMAK_FUZZ_REPORTS (default
/tmp/fuzz-reports).
"""

import dmakfuzz


def test_fuzz(direct_and_sg):
    summary = dmakfuzz.run(dmakfuzz.Config.from_env())
    assert not summary["problems"], dmakfuzz.report_text(summary)
