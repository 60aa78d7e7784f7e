"""Unit tests of tests/tune-eval, the out-of-sample evaluation of `dynopilot tune`: how it
cuts a trace into train/test windows and how it judges the goals (run with
`python3 -m unittest tests/test_tune_eval.py`)."""

from __future__ import annotations

import importlib.machinery
import importlib.util
import unittest
from pathlib import Path

SCRIPT = Path(__file__).resolve().parent / "tune-eval"
_loader = importlib.machinery.SourceFileLoader("tune_eval", str(SCRIPT))
_spec = importlib.util.spec_from_loader("tune_eval", _loader)
tune_eval = importlib.util.module_from_spec(_spec)
_loader.exec_module(tune_eval)

DAY = 1440


def point(under, cost):
    return {"under": under, "cost": cost}


class FoldsTest(unittest.TestCase):
    def test_the_test_window_follows_the_training_window_and_never_overlaps_it(self):
        cuts = tune_eval.folds(62 * DAY, 14)  # the NASA trace: 62 days
        self.assertEqual(cuts, [(0, 14 * DAY, 28 * DAY), (14 * DAY, 28 * DAY, 42 * DAY),
                                (28 * DAY, 42 * DAY, 56 * DAY)])
        for train_from, test_from, test_end in cuts:
            train = set(range(train_from, test_from))
            test = set(range(test_from, test_end))
            self.assertFalse(train & test)
            self.assertEqual(len(test), 14 * DAY)

    def test_a_partial_last_window_is_not_scored(self):
        self.assertEqual(len(tune_eval.folds(56 * DAY - 1, 14)), 2)
        self.assertEqual(len(tune_eval.folds(56 * DAY, 14)), 3)
        self.assertEqual(tune_eval.folds(27 * DAY, 14), [])

    def test_quick_windows(self):
        self.assertEqual(tune_eval.folds(6 * DAY, 3), [(0, 3 * DAY, 6 * DAY)])


class GoalsTest(unittest.TestCase):
    def test_dominance_needs_no_worse_on_both_axes_and_better_on_one(self):
        self.assertTrue(tune_eval.dominates(point(0.5, 1.2), point(0.5, 1.3)))
        self.assertTrue(tune_eval.dominates(point(0.4, 1.3), point(0.5, 1.3)))
        self.assertFalse(tune_eval.dominates(point(0.5, 1.3), point(0.5, 1.3)))
        # Cheaper but riskier (Dynosaur's place on the frontier) is not dominated.
        self.assertFalse(tune_eval.dominates(point(0.9, 1.45), point(3.9, 1.24)))

    def test_each_goal_is_judged_and_a_miss_is_worded(self):
        tuned, hindsight = point(0.9, 1.45), point(0.9, 1.40)
        preds = {"dynosaur": point(3.9, 1.24), "swop": point(1.8, 1.6)}
        risk_ok, cost_ok, dom_ok, notes = tune_eval.goals(tuned, hindsight, preds, 1.0)
        self.assertEqual((risk_ok, cost_ok, dom_ok), (True, True, False))
        self.assertEqual(notes, "does not dominate dynosaur")

        risk_ok, cost_ok, dom_ok, notes = tune_eval.goals(point(2.3, 1.48), hindsight,
                                                          {"swop": point(1.8, 1.6)}, 1.0)
        self.assertEqual((risk_ok, cost_ok, dom_ok), (False, False, False))
        self.assertEqual(notes, "2.30% under-provisioned > 2.25%; cost +5.7% vs hindsight; "
                                "does not dominate swop")

    def test_the_bounds_are_inclusive(self):
        ok = tune_eval.goals(point(2.25, 1.05), point(0.0, 1.0), {}, 1.0)
        self.assertEqual(ok, (True, True, True, ""))

    def test_pooling_adds_minutes_not_percentages(self):
        a = {"dyno_minutes": 100, "oracle": 50, "under_minutes": 10, "minutes": 1000}
        b = {"dyno_minutes": 300, "oracle": 250, "under_minutes": 0, "minutes": 3000}
        p = tune_eval.pooled([a, b])
        self.assertAlmostEqual(p["cost"], 400 / 300)
        self.assertAlmostEqual(p["under"], 100 * 10 / 4000)


class LabelTest(unittest.TestCase):
    def test_labels_name_the_rule_its_knob_and_window(self):
        cap = {"candidate": {"rule": "capacity", "headroom": 0.03, "window_minutes": 1}}
        tgt = {"candidate": {"rule": "target", "level": 0.85, "window_minutes": 15}}
        self.assertEqual(tune_eval.label(cap), "capacity +3% / 1m")
        self.assertEqual(tune_eval.label(tgt), "target 85% / 15m")
        self.assertEqual(tune_eval.label(None), "no suggestion")


if __name__ == "__main__":
    unittest.main()
