"""Unit tests of tests/iam_check.py: it passes on the real templates and fails as soon as
either template grants an action the code does not use (run by tests/run after the CDK
synth, with the project venv's python: `python -m unittest tests/test_iam_check.py`)."""

from __future__ import annotations

import copy
import io
import json
import sys
import tempfile
import textwrap
import unittest
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import iam_check  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
SAM = ROOT / "template.yaml"
CDK = ROOT / "infra" / "cdk.out" / "Dynopilot.template.json"
CONTRACT = {name: sorted(fn.contract) for name, fn in iam_check.FUNCTIONS.items()}


def _statements(template: dict, role: str = "FunctionRole") -> list[dict]:
    """The inline statements of a parsed template's role whose logical id starts with `role`
    (FunctionRole: the decision run's; HttpFunctionRole: the HTTP function's)."""
    found = [r for lid, r in template["Resources"].items() if lid.startswith(role) and r["Type"] == "AWS::IAM::Role"]
    assert len(found) == 1, f"{len(found)} roles {role}*"
    return found[0]["Properties"]["Policies"][0]["PolicyDocument"]["Statement"]


def _statement(template: dict, sid: str, role: str = "FunctionRole") -> dict:
    return next(s for s in _statements(template, role) if s.get("Sid") == sid)


class IamCheckTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        if not CDK.is_file():
            raise AssertionError(f"{CDK} is missing: run tests/run (it synthesizes the CDK app before this test)")
        cls.sam = iam_check.load_template(SAM)
        cls.cdk = iam_check.load_template(CDK)

    def setUp(self):
        self.tmp = tempfile.TemporaryDirectory()
        self.dir = Path(self.tmp.name)
        self.empty_src = self.dir / "src"
        self.empty_src.mkdir()

    def tearDown(self):
        self.tmp.cleanup()

    def _write(self, name: str, template: dict) -> Path:
        path = self.dir / name
        path.write_text(json.dumps(template), encoding="utf-8")
        return path

    def _run(self, sam: Path = SAM, cdk: Path = CDK, src: Path | None = None, code=CONTRACT) -> tuple[int, str]:
        out = io.StringIO()
        rc = iam_check.run(sam, cdk, src or self.empty_src, code, out=out)
        return rc, out.getvalue()

    # --- the real templates ------------------------------------------------------------

    def test_real_templates_pass_against_the_contracted_actions(self):
        rc, out = self._run()
        self.assertEqual(rc, 0, out)
        self.assertIn("SAM and CDK grant each function the same actions (DynopilotFunction 8, TuneFunction 6, HttpFunction 6)", out)

    def test_without_sdk_calls_in_src_the_contracted_list_is_used_and_named(self):
        rc, out = self._run(code=None)
        self.assertEqual(rc, 0, out)
        self.assertIn("using the contracted lists", out)

    # --- an action the code does not use -----------------------------------------------

    def test_an_unused_action_added_to_the_sam_template_fails(self):
        # Edit the YAML text itself, as a person would.
        text = SAM.read_text(encoding="utf-8").replace(
            "                  - dynamodb:PutItem\n",
            "                  - dynamodb:PutItem\n                  - dynamodb:DeleteItem\n",
            1,
        )
        self.assertIn("dynamodb:DeleteItem", text)
        sam = self.dir / "template.yaml"
        sam.write_text(text, encoding="utf-8")
        rc, out = self._run(sam=sam)
        self.assertEqual(rc, 1, out)
        self.assertIn("SAM grants dynamodb:DeleteItem to DynopilotFunction but CDK does not", out)
        self.assertIn("SAM grants dynamodb:DeleteItem to DynopilotFunction, whose code does not use it", out)

    def test_an_unused_action_added_to_the_cdk_template_fails(self):
        cdk = copy.deepcopy(self.cdk)
        _statement(cdk, "ReadSecrets")["Action"] = ["ssm:GetParameter", "ssm:GetParametersByPath"]
        rc, out = self._run(cdk=self._write("cdk.json", cdk))
        self.assertEqual(rc, 1, out)
        self.assertIn("CDK grants ssm:GetParametersByPath to DynopilotFunction but SAM does not", out)
        self.assertIn("CDK grants ssm:GetParametersByPath to DynopilotFunction, whose code does not use it", out)

    def test_the_same_unused_action_in_both_templates_still_fails(self):
        sam, cdk = copy.deepcopy(self.sam), copy.deepcopy(self.cdk)
        for t in (sam, cdk):
            _statements(t).append({"Sid": "Extra", "Effect": "Allow", "Action": "ses:SendRawEmail", "Resource": "arn:aws:ses:eu-west-1:123456789012:identity/example.com"})
        rc, out = self._run(sam=self._write("sam.json", sam), cdk=self._write("cdk.json", cdk))
        self.assertEqual(rc, 1, out)
        self.assertIn("SAM grants ses:SendRawEmail to DynopilotFunction, whose code does not use it", out)
        self.assertIn("CDK grants ses:SendRawEmail to DynopilotFunction, whose code does not use it", out)
        self.assertNotIn("but CDK does not", out)

    def test_an_unused_action_in_a_separate_policy_attached_to_the_role_fails(self):
        cdk = copy.deepcopy(self.cdk)
        role_id = next(k for k, r in cdk["Resources"].items() if k.startswith("FunctionRole") and r["Type"] == "AWS::IAM::Role")
        cdk["Resources"]["ExtraPolicy"] = {
            "Type": "AWS::IAM::Policy",
            "Properties": {
                "PolicyName": "extra",
                "Roles": [{"Ref": role_id}],
                "PolicyDocument": {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "dynamodb:Scan", "Resource": {"Fn::GetAtt": ["T", "Arn"]}}]},
            },
        }
        rc, out = self._run(cdk=self._write("cdk.json", cdk))
        self.assertEqual(rc, 1, out)
        self.assertIn("CDK grants dynamodb:Scan to DynopilotFunction, whose code does not use it", out)

    # --- an action the code uses but is not granted ------------------------------------

    def test_an_action_the_code_uses_but_neither_template_grants_fails(self):
        code = {**CONTRACT, "DynopilotFunction": CONTRACT["DynopilotFunction"] + ["dynamodb:DeleteItem"]}
        rc, out = self._run(code=code)
        self.assertEqual(rc, 1, out)
        self.assertIn("SAM does not grant dynamodb:DeleteItem to DynopilotFunction, whose code uses it", out)
        self.assertIn("CDK does not grant dynamodb:DeleteItem to DynopilotFunction, whose code uses it", out)

    # --- the HTTP function (log drain, status page) has its own role -----------------------

    def test_the_http_function_gets_no_action_of_the_decision_run(self):
        # Granting the HTTP function SendEmail (which only the decision run uses) fails.
        sam, cdk = copy.deepcopy(self.sam), copy.deepcopy(self.cdk)
        for t in (sam, cdk):
            _statements(t, "HttpFunctionRole").append(
                {"Sid": "Mail", "Effect": "Allow", "Action": "ses:SendEmail", "Resource": "arn:aws:ses:eu-west-1:123456789012:identity/example.com"}
            )
        rc, out = self._run(sam=self._write("sam.json", sam), cdk=self._write("cdk.json", cdk))
        self.assertEqual(rc, 1, out)
        self.assertIn("SAM grants ses:SendEmail to HttpFunction, whose code does not use it", out)
        self.assertIn("CDK grants ses:SendEmail to HttpFunction, whose code does not use it", out)

    def test_the_http_function_without_update_item_fails(self):
        cdk = copy.deepcopy(self.cdk)
        _statement(cdk, "DrainAndStatus", "HttpFunctionRole")["Action"] = ["dynamodb:GetItem", "dynamodb:PutItem"]
        rc, out = self._run(cdk=self._write("cdk.json", cdk))
        self.assertEqual(rc, 1, out)
        self.assertIn("CDK does not grant dynamodb:UpdateItem to HttpFunction, whose code uses it", out)

    def test_two_functions_sharing_one_role_fails(self):
        sam = copy.deepcopy(self.sam)
        sam["Resources"]["HttpFunction"]["Properties"]["Role"] = {"Fn::GetAtt": ["FunctionRole", "Arn"]}
        rc, out = self._run(sam=self._write("sam.json", sam))
        self.assertEqual(rc, 1, out)
        self.assertIn("SAM: the functions share a role", out)

    def test_a_third_bootstrap_function_is_unchecked_and_fails(self):
        sam = copy.deepcopy(self.sam)
        sam["Resources"]["OtherFunction"] = copy.deepcopy(sam["Resources"]["HttpFunction"])
        rc, out = self._run(sam=self._write("sam.json", sam))
        self.assertEqual(rc, 1, out)
        self.assertIn("function OtherFunction is not in iam_check.FUNCTIONS", out)

    # --- wildcards and opaque policies -------------------------------------------------

    def test_a_wildcard_action_fails(self):
        sam = copy.deepcopy(self.sam)
        _statement(sam, "StateTable")["Action"] = "dynamodb:*"
        rc, out = self._run(sam=self._write("sam.json", sam))
        self.assertEqual(rc, 1, out)
        self.assertIn("grants the wildcard action dynamodb:*", out)

    def test_a_star_resource_fails(self):
        cdk = copy.deepcopy(self.cdk)
        _statement(cdk, "SendReports")["Resource"] = "*"
        rc, out = self._run(cdk=self._write("cdk.json", cdk))
        self.assertEqual(rc, 1, out)
        self.assertIn('grants ses:SendEmail on resource "*"', out)

    def test_a_managed_policy_on_the_role_fails_as_unverifiable(self):
        cdk = copy.deepcopy(self.cdk)
        role = next(r for r in cdk["Resources"].values() if r["Type"] == "AWS::IAM::Role")
        role["Properties"]["ManagedPolicyArns"] = ["arn:aws:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole"]
        rc, out = self._run(cdk=self._write("cdk.json", cdk))
        self.assertEqual(rc, 1, out)
        self.assertIn("managed policies", out)

    def test_a_sam_generated_role_fails_because_of_its_star_log_permissions(self):
        sam = copy.deepcopy(self.sam)
        fn = sam["Resources"]["DynopilotFunction"]["Properties"]
        del fn["Role"]
        fn["Policies"] = [{"Statement": _statements(sam)}]
        rc, out = self._run(sam=self._write("sam.json", sam))
        self.assertEqual(rc, 1, out)
        self.assertIn('grants logs:CreateLogGroup on resource "*"', out)

    # --- the scan of src/ ---------------------------------------------------------------

    def _src(self, files: dict[str, str]) -> Path:
        src = self.dir / "scan" / "src"
        for name, body in files.items():
            path = src / name
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(textwrap.dedent(body), encoding="utf-8")
        return src

    def test_the_scan_maps_sdk_fluent_calls_to_iam_actions(self):
        src = self._src(
            {
                "store/dynamodb.rs": """
                    use aws_sdk_dynamodb::Client;
                    async fn f(c: &Client) {
                        let _ = c.get_item().table_name("t").send().await;
                        let _ = c
                            .put_item()
                            .table_name("t")
                            .send()
                            .await;
                        // c.delete_item() in a comment is not a call
                    }
                    #[cfg(test)]
                    mod tests { fn g(c: &Client) { c.create_table(); } }
                """,
                "notify/ses.rs": """
                    use aws_sdk_sesv2 as ses;
                    async fn s(c: &ses::Client) { let _ = c.send_email().send().await; }
                """,
                "notify/console.rs": """
                    // no SDK here: a method of our own with an SDK-like name is not an AWS call
                    fn n(x: &X) { x.get_parameter(); }
                """,
            }
        )
        found, _, problems = iam_check.code_actions(src)
        self.assertEqual(problems, [])
        self.assertEqual(sorted(found["DynopilotFunction"]), ["dynamodb:GetItem", "dynamodb:PutItem", "ses:SendEmail"])
        # The HTTP function reaches only get_item in store/dynamodb.rs.
        self.assertEqual(sorted(found["HttpFunction"]), ["dynamodb:GetItem"])

    def test_a_transaction_needs_the_actions_it_is_made_of(self):
        src = self._src(
            {
                "drain_store/dynamodb.rs": """
                    use aws_sdk_dynamodb::{Client, types::{Put, Update}};
                    fn f(c: &Client) {
                        let u = Update::builder().build();
                        let p = Put::builder().build();
                        c.transact_write_items();
                        c.batch_get_item();
                    }
                """
            }
        )
        found, _, problems = iam_check.code_actions(src)
        self.assertEqual(problems, [])
        self.assertEqual(sorted(found["HttpFunction"]), ["dynamodb:PutItem", "dynamodb:UpdateItem"])
        self.assertNotIn("dynamodb:TransactWriteItems", found["HttpFunction"])
        # The decision run only reads the drain's minutes.
        self.assertEqual(sorted(found["DynopilotFunction"]), ["dynamodb:BatchGetItem"])

    def test_a_file_no_function_claims_fails(self):
        src = self._src({"drain_store/new_adapter.rs": "use aws_sdk_dynamodb::Client;\nfn f(c: &Client) { c.scan(); }\n"})
        _, _, problems = iam_check.code_actions(src)
        self.assertEqual(problems, ["src/drain_store/new_adapter.rs calls scan, but no function in iam_check.FUNCTIONS claims the file"])

    def test_a_declared_call_missing_from_its_file_fails(self):
        # FUNCTIONS says the HTTP function calls transact_write_items in drain_store/dynamodb.rs.
        src = self._src({"drain_store/dynamodb.rs": "use aws_sdk_dynamodb::Client;\nfn f(c: &Client) { c.batch_get_item(); }\n"})
        _, _, problems = iam_check.code_actions(src)
        self.assertIn("FUNCTIONS says HttpFunction calls transact_write_items in src/drain_store/dynamodb.rs, but the file makes no such call", problems)

    def test_code_missing_a_call_makes_the_grant_unused_and_fails(self):
        src = self._src({"store/dynamodb.rs": "use aws_sdk_dynamodb::Client;\nfn f(c: &Client) { c.get_item(); }\n"})
        rc, out = self._run(src=src, code=None)
        self.assertEqual(rc, 1, out)
        self.assertIn("SAM grants dynamodb:PutItem to DynopilotFunction, whose code does not use it", out)


if __name__ == "__main__":
    unittest.main()
