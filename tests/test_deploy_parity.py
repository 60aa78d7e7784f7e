"""The SAM template and the synthesized CDK stack deploy the same thing: this compares the
settings that matter (function, schedule and retries, table, alarms, log retention) between
template.yaml (parameters at their defaults) and infra/cdk.out (run by tests/run after the
CDK synth: `python -m unittest tests/test_deploy_parity.py`)."""

from __future__ import annotations

import json
import sys
import unittest
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import iam_check  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
SAM = ROOT / "template.yaml"
CDK = ROOT / "infra" / "cdk.out" / "Dynopilot.template.json"


def _one(template: dict, type_: str, where: str = "") -> dict:
    found = [r for r in template["Resources"].values() if r["Type"] == type_]
    if len(found) != 1:
        raise AssertionError(f"{where}: expected one {type_}, found {len(found)}")
    return found[0]["Properties"]


def _fn(template: dict, prefix: str, where: str) -> dict:
    """The properties of the Lambda function whose logical id starts with `prefix`."""
    found = [
        r["Properties"]
        for lid, r in template["Resources"].items()
        if lid.startswith(prefix) and r["Type"] in ("AWS::Lambda::Function", "AWS::Serverless::Function")
    ]
    if len(found) != 1:
        raise AssertionError(f"{where}: expected one function {prefix}*, found {len(found)}")
    return found[0]


def _enabled_by_default(template: dict, resource: dict) -> bool:
    """False for a resource behind a condition that is false with the parameters at their
    defaults (only the `Fn::Equals [Ref P, "x"]` form is needed here)."""
    name = resource.get("Condition")
    if name is None:
        return True
    cond = template["Conditions"][name]
    left, right = cond["Fn::Equals"]
    return template["Parameters"][left["Ref"]].get("Default") == right


def _resolve(value, params: dict):
    """Refs to parameters become their defaults; `Fn::If` on a parameter-only condition is
    not needed for the settings compared here."""
    if isinstance(value, dict) and set(value) == {"Ref"} and value["Ref"] in params:
        default = params[value["Ref"]].get("Default")
        if params[value["Ref"]].get("Type") == "Number":
            return int(default)
        return default
    if isinstance(value, list):
        return [_resolve(v, params) for v in value]
    return value


ALARM_KEYS = (
    "Namespace",
    "MetricName",
    "Statistic",
    "Period",
    "EvaluationPeriods",
    "DatapointsToAlarm",
    "Threshold",
    "ComparisonOperator",
    "TreatMissingData",
)


class DeployParityTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        if not CDK.is_file():
            raise AssertionError(f"{CDK} is missing: run tests/run (it synthesizes the CDK app before this test)")
        cls.sam = iam_check.load_template(SAM)
        cls.cdk = iam_check.load_template(CDK)
        cls.params = cls.sam["Parameters"]
        cls.sam_fn = cls.sam["Resources"]["DynopilotFunction"]["Properties"]
        cls.cdk_fn = _fn(cls.cdk, "DynopilotFunction", "CDK")
        cls.sam_http = cls.sam["Resources"]["HttpFunction"]["Properties"]
        cls.cdk_http = _fn(cls.cdk, "HttpFunction", "CDK")

    def test_the_function_has_the_same_runtime_size_timeout_and_architecture(self):
        for key in ("Runtime", "Handler", "MemorySize", "Timeout"):
            self.assertEqual(self.sam_fn[key], self.cdk_fn[key], key)
        self.assertEqual(_resolve(self.sam_fn["Architectures"], self.params), self.cdk_fn["Architectures"])
        self.assertEqual(self.cdk_fn["Architectures"], ["arm64"])
        self.assertLess(self.cdk_fn["Timeout"], 60)

    def test_the_sam_function_is_built_by_cargo_lambda_from_the_dynopilot_lambda_binary(self):
        meta = self.sam["Resources"]["DynopilotFunction"]["Metadata"]
        self.assertEqual(meta["BuildMethod"], "rust-cargolambda")
        self.assertEqual(meta["BuildProperties"]["Binary"], "dynopilot-lambda")
        self.assertEqual(self.sam_fn["CodeUri"], ".")

    def test_reserved_concurrency_defaults_to_2_in_both(self):
        self.assertEqual(self.params["ReservedConcurrency"]["Default"], "2")
        self.assertEqual(self.cdk_fn["ReservedConcurrentExecutions"], 2)

    def test_the_same_environment_variables_are_set(self):
        sam_vars = set(self.sam_fn["Environment"]["Variables"])
        cdk_vars = set(self.cdk_fn["Environment"]["Variables"])
        # SAM lists both config variables behind conditions; CDK sets only the one in use.
        self.assertEqual(sam_vars - {"DYNOPILOT_CONFIG_FILE"}, cdk_vars)

    def test_the_schedule_retries_and_dead_letters_match(self):
        event = self.sam_fn["Events"]["EveryMinute"]
        self.assertEqual(event["Type"], "Schedule")
        rule = next(
            r["Properties"]
            for lid, r in self.cdk["Resources"].items()
            if lid.startswith("EveryMinute") and r["Type"] == "AWS::Events::Rule"
        )
        self.assertEqual(event["Properties"]["Schedule"], rule["ScheduleExpression"])
        self.assertEqual(rule["ScheduleExpression"], "rate(1 minute)")
        target = rule["Targets"][0]
        self.assertEqual(event["Properties"]["RetryPolicy"], target["RetryPolicy"])
        self.assertIn("DeadLetterConfig", event["Properties"])
        self.assertIn("DeadLetterConfig", target)

        invoke = self.sam_fn["EventInvokeConfig"]
        cdk_invoke = next(
            r["Properties"]
            for lid, r in self.cdk["Resources"].items()
            if lid == "EventInvokeConfig" or (lid.startswith("EventInvokeConfig") and r["Type"] == "AWS::Lambda::EventInvokeConfig")
        )
        for key in ("MaximumEventAgeInSeconds", "MaximumRetryAttempts"):
            self.assertEqual(invoke[key], cdk_invoke[key], key)
        self.assertLessEqual(invoke["MaximumEventAgeInSeconds"], 120)
        self.assertEqual(invoke["DestinationConfig"]["OnFailure"]["Type"], "SQS")
        self.assertIn("OnFailure", cdk_invoke["DestinationConfig"])

    def test_the_state_table_matches(self):
        sam_t = self.sam["Resources"]["StateTable"]["Properties"]
        cdk_t = _one(self.cdk, "AWS::DynamoDB::Table", "CDK")
        for key in ("KeySchema", "AttributeDefinitions", "BillingMode", "TimeToLiveSpecification"):
            self.assertEqual(sam_t[key], cdk_t[key], key)
        self.assertEqual(self.params["PointInTimeRecovery"]["Default"], "false")
        self.assertFalse(cdk_t["PointInTimeRecoverySpecification"]["PointInTimeRecoveryEnabled"])

    def test_the_log_retention_matches(self):
        cdk_groups = [r["Properties"] for r in self.cdk["Resources"].values() if r["Type"] == "AWS::Logs::LogGroup"]
        self.assertEqual(len(cdk_groups), 3)
        for name in ("FunctionLogGroup", "HttpFunctionLogGroup", "TuneFunctionLogGroup"):
            sam_lg = self.sam["Resources"][name]["Properties"]
            for cdk_lg in cdk_groups:
                self.assertEqual(_resolve(sam_lg["RetentionInDays"], self.params), cdk_lg["RetentionInDays"], name)

    def test_the_http_function_matches(self):
        for key in ("Runtime", "Handler", "MemorySize", "Timeout"):
            self.assertEqual(self.sam_http[key], self.cdk_http[key], key)
        self.assertEqual(_resolve(self.sam_http["Architectures"], self.params), self.cdk_http["Architectures"])
        self.assertEqual(self.sam["Resources"]["HttpFunction"]["Metadata"]["BuildProperties"]["Binary"], "dynopilot-http")
        # Logplex waits 5 s for an answer; the function must not run much longer.
        self.assertLessEqual(self.cdk_http["Timeout"], 10)
        self.assertEqual(self.params["HttpReservedConcurrency"]["Default"], "5")
        self.assertEqual(self.cdk_http["ReservedConcurrentExecutions"], 5)
        self.assertEqual(set(self.sam_http["Environment"]["Variables"]) - {"DYNOPILOT_CONFIG_FILE"}, set(self.cdk_http["Environment"]["Variables"]))
        self.assertNotIn("DYNOPILOT_SES_FROM", self.cdk_http["Environment"]["Variables"])

    def test_the_function_url_and_its_public_permissions_match(self):
        sam_url = _one(self.sam, "AWS::Lambda::Url", "SAM")
        cdk_url = _one(self.cdk, "AWS::Lambda::Url", "CDK")
        for url in (sam_url, cdk_url):
            self.assertEqual(url["AuthType"], "NONE")
            self.assertEqual(url["InvokeMode"], "BUFFERED")

        def permissions(template: dict) -> list[tuple]:
            return sorted(
                (p["Properties"]["Action"], p["Properties"]["Principal"], p["Properties"].get("FunctionUrlAuthType"), p["Properties"].get("InvokedViaFunctionUrl"))
                for p in template["Resources"].values()
                if p["Type"] == "AWS::Lambda::Permission" and p["Properties"].get("Principal") == "*"
            )

        expected = [("lambda:InvokeFunction", "*", None, True), ("lambda:InvokeFunctionUrl", "*", "NONE", None)]
        self.assertEqual(permissions(self.sam), expected)
        self.assertEqual(permissions(self.cdk), expected)

    def test_the_daily_tune_matches(self):
        sam_tune = self.sam["Resources"]["TuneFunction"]
        cdk_tune = _fn(self.cdk, "TuneFunction", "CDK")
        for key in ("Runtime", "Handler", "MemorySize", "Timeout"):
            self.assertEqual(sam_tune["Properties"][key], cdk_tune[key], key)
        self.assertEqual(sam_tune["Metadata"]["BuildProperties"]["Binary"], "dynopilot-lambda")
        self.assertEqual(cdk_tune["MemorySize"], 1769)
        self.assertEqual(cdk_tune["ReservedConcurrentExecutions"], 1)
        event = sam_tune["Properties"]["Events"]["DailyTune"]["Properties"]
        rules = [
            r["Properties"]
            for r in self.cdk["Resources"].values()
            if r["Type"] == "AWS::Events::Rule" and r["Properties"]["ScheduleExpression"].startswith("cron(")
        ]
        self.assertEqual(len(rules), 1)
        self.assertEqual(event["Schedule"], rules[0]["ScheduleExpression"])
        self.assertEqual(json.loads(event["Input"]), json.loads(rules[0]["Targets"][0]["Input"]))
        self.assertEqual(json.loads(event["Input"]), {"action": "tune"})
        self.assertEqual(event["RetryPolicy"], rules[0]["Targets"][0]["RetryPolicy"])
        self.assertEqual(
            set(sam_tune["Properties"]["Environment"]["Variables"]),
            set(self.sam_fn["Environment"]["Variables"]),
        )

    def test_the_drain_alarm_is_off_by_default_in_both(self):
        self.assertEqual(self.params["DrainAlarm"]["Default"], "false")
        sam_alarm = self.sam["Resources"]["NoDrainFramesAlarm"]
        self.assertFalse(_enabled_by_default(self.sam, sam_alarm))
        self.assertEqual(sam_alarm["Properties"]["MetricName"], "DrainFrames")
        self.assertEqual(sam_alarm["Properties"]["TreatMissingData"], "breaching")
        cdk_metrics = [r["Properties"].get("MetricName") for r in self.cdk["Resources"].values() if r["Type"] == "AWS::CloudWatch::Alarm"]
        self.assertNotIn("DrainFrames", cdk_metrics)

    def test_the_alarms_match(self):
        def alarms(template: dict, params: dict) -> list[tuple]:
            out = []
            for r in template["Resources"].values():
                if r["Type"] == "AWS::CloudWatch::Alarm" and ("Conditions" not in template or _enabled_by_default(template, r)):
                    p = r["Properties"]
                    out.append(tuple(_resolve(p.get(k), params) for k in ALARM_KEYS))
            return sorted(out, key=repr)

        sam_alarms = alarms(self.sam, self.params)
        self.assertEqual(sam_alarms, alarms(self.cdk, {}))
        self.assertIn(
            ("Dynopilot", "Decisions", "Sum", 60, 5, 5, 1, "LessThanThreshold", "breaching"),
            sam_alarms,
        )


if __name__ == "__main__":
    unittest.main()
