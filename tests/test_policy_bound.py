"""Unit tests of tests/policy-bound, the clairvoyant reference behind the README's policy
tables, on traces small enough to compute by hand (run by tests/run:
`python -m unittest tests/test_policy_bound.py`)."""

from __future__ import annotations

import importlib.machinery
import importlib.util
import os
import tempfile
import unittest
from pathlib import Path

SCRIPT = Path(__file__).resolve().parent / "policy-bound"
_loader = importlib.machinery.SourceFileLoader("policy_bound", str(SCRIPT))
_spec = importlib.util.spec_from_loader("policy_bound", _loader)
policy_bound = importlib.util.module_from_spec(_spec)
_loader.exec_module(policy_bound)


def write_trace(test: unittest.TestCase, rows: list[str]) -> str:
    f = tempfile.NamedTemporaryFile("w", suffix=".csv", delete=False)
    test.addCleanup(os.unlink, f.name)
    f.write("minute,requests\n")
    for i, value in enumerate(rows):
        f.write(f"1995-07-01 00:{i:02d},{value}\n")
    f.close()
    return f.name


class ReadLoadsTest(unittest.TestCase):
    def test_a_missing_minute_keeps_the_last_known_load_as_the_simulator_does(self):
        path = write_trace(self, ["10", "", "30", ""])
        self.assertEqual(policy_bound.read_loads(path), [10.0, 10.0, 30.0, 30.0])

    def test_a_bad_value_names_its_line(self):
        path = write_trace(self, ["10", "lots"])
        with self.assertRaises(SystemExit) as stop:
            policy_bound.read_loads(path)
        self.assertIn("line 3", str(stop.exception))
        self.assertIn("'lots'", str(stop.exception))


class ReferenceTest(unittest.TestCase):
    def test_knowing_each_minute_exactly_is_the_oracle(self):
        # Told the mean of minute t alone, the reference knows the load: for any λ > 1
        # one more dyno is cheaper than a certain shortfall, so it runs the oracle.
        loads = [30.0, 50.0, 90.0, 10.0, 130.0, 40.0]
        ref = policy_bound.Reference(loads, 0, 0, 40.0, 1, 100)
        oracle = sum(policy_bound.dynos_for(x, 40.0, 1, 100) for x in loads[1:])
        self.assertEqual(oracle, 2 + 3 + 1 + 4 + 1)
        self.assertEqual(ref.run(5.0), (oracle, 0))
        # For λ < 1 a shortfall is cheaper than a dyno: always `min`, short whenever load > 40.
        self.assertEqual(ref.run(0.5), (5, 3))

    def test_lambda_trades_dynos_for_shortfall_as_computed_by_hand(self):
        # Loads alternate 30, 50; told the mean of the previous two minutes (always 40),
        # the reference sees load/mean = 0.75 or 1.25, each half the time:
        # N = 1 costs 1 + λ·0.5, N = 2 costs 2. So λ < 2 picks 1 dyno (short on every
        # 50), λ > 2 picks 2 (never short).
        loads = [30.0, 50.0] * 6
        ref = policy_bound.Reference(loads, -2, -1, 40.0, 1, 100)
        minutes = len(loads) - 1
        dm, under = ref.run(1.0)
        fifties = sum(1 for x in loads[1:] if x == 50.0)
        # The first two minutes see clipped windows (a mean of 30 or 30..50); they are
        # the only ones that may differ from the steady pattern.
        self.assertLessEqual(abs(dm - minutes), 2)
        self.assertLessEqual(abs(under - fifties), 2)
        dm, under = ref.run(3.0)
        self.assertLessEqual(abs(dm - 2 * minutes), 2)
        self.assertLessEqual(under, 2)
        steady = policy_bound.Reference(loads, -2, -1, 40.0, 1, 100)
        steady.choices = steady.choices[2:]
        self.assertEqual(steady.run(1.0), (minutes - 2, fifties - 1))
        self.assertEqual(steady.run(3.0), (2 * (minutes - 2), 0))


if __name__ == "__main__":
    unittest.main()
