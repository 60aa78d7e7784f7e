#!/usr/bin/env python3
"""Compare the IAM actions the deploy templates grant with the AWS calls the code makes.

Reads the Lambda function's execution role from
  - the SAM template (template.yaml), and
  - the synthesized CDK template (infra/cdk.out/<stack>.template.json),
and the AWS SDK operations the Rust code calls, found in src/: in every file that names
aws_sdk_dynamodb / aws_sdk_sesv2 / aws_sdk_ssm, each fluent operation call such as
`.get_item()` becomes the IAM action `dynamodb:GetItem` (snake_case -> PascalCase; SESv2's
IAM prefix is `ses`). Until the Lambda code exists the scan finds nothing, and the
contracted list (CONTRACT_ACTIONS) stands in; the output says which source was used.

Fails (exit 1) when
  - SAM and CDK grant different actions,
  - either grants an action that is neither called by the code nor used by the Lambda
    service itself on the function's behalf (SERVICE_ACTIONS),
  - the code calls an action that a template does not grant,
  - a statement uses a wildcard action, NotAction/NotResource, Deny, a "*" resource, or
    the role carries managed policies (whose actions this check cannot see).

Usage: tests/iam_check.py [--sam PATH] [--cdk PATH] [--src DIR] [--code-actions A,B,...]
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent

# What the Lambda code calls, by contract (issue 3). Used only when src/ has no SDK calls yet.
CONTRACT_ACTIONS = frozenset(
    {
        "dynamodb:BatchGetItem",
        "dynamodb:GetItem",
        "dynamodb:PutItem",
        "ses:SendEmail",
        "ssm:GetParameter",
    }
)

# Actions the Lambda service performs with the execution role, not the code: writing the
# function's log (which also carries the EMF metrics) and handing a failed asynchronous
# event to the on-failure destination queue.
SERVICE_ACTIONS = {
    "logs:CreateLogStream": "Lambda writes the function's log stream",
    "logs:PutLogEvents": "Lambda writes the function's log (and EMF metrics)",
    "sqs:SendMessage": "Lambda sends failed async events to the on-failure destination",
}

# Actions whose API supports no resource-level permission, so "*" is the only resource
# they can have. None of the actions above needs it.
STAR_RESOURCE_ALLOWED: frozenset[str] = frozenset()

# SDK crate -> IAM service prefix.
SDK_SERVICES = {
    "aws_sdk_dynamodb": "dynamodb",
    "aws_sdk_sesv2": "ses",
    "aws_sdk_ssm": "ssm",
}

# Operation names per crate when the crate's source is not in the cargo registry (the
# check then still recognizes these; the registry's src/operation/ list is complete).
FALLBACK_OPERATIONS = {
    "aws_sdk_dynamodb": """batch_execute_statement batch_get_item batch_write_item create_table
        delete_item delete_table describe_table describe_time_to_live execute_statement
        execute_transaction get_item list_tables put_item query scan transact_get_items
        transact_write_items update_item update_table update_time_to_live""",
    "aws_sdk_sesv2": """create_email_identity delete_email_identity get_account
        get_email_identity list_email_identities send_bulk_email send_email""",
    "aws_sdk_ssm": """delete_parameter delete_parameters describe_parameters get_parameter
        get_parameter_history get_parameters get_parameters_by_path put_parameter""",
}

FUNCTION_TYPES = {"AWS::Serverless::Function", "AWS::Lambda::Function"}


class CheckError(Exception):
    """A template the check cannot read or verify."""


# ---------------------------------------------------------------------------------------
# Templates
# ---------------------------------------------------------------------------------------


class _CfnLoader(yaml.SafeLoader):
    """YAML loader that turns CloudFormation short tags (!Ref, !GetAtt, !Sub...) into
    their long JSON forms, so SAM and CDK templates look alike."""


def _cfn_tag(loader: _CfnLoader, suffix: str, node: yaml.Node):
    if isinstance(node, yaml.ScalarNode):
        value = loader.construct_scalar(node)
    elif isinstance(node, yaml.SequenceNode):
        value = loader.construct_sequence(node, deep=True)
    else:
        value = loader.construct_mapping(node, deep=True)
    if suffix == "Ref":
        return {"Ref": value}
    if suffix == "GetAtt" and isinstance(value, str):
        value = value.split(".", 1)
    return {"Fn::" + suffix: value}


_CfnLoader.add_multi_constructor("!", _cfn_tag)


def load_template(path: Path) -> dict:
    if not path.is_file():
        raise CheckError(f"{path}: no such file")
    text = path.read_text(encoding="utf-8")
    data = json.loads(text) if path.suffix == ".json" else yaml.load(text, Loader=_CfnLoader)  # noqa: S506
    if not isinstance(data, dict) or not isinstance(data.get("Resources"), dict):
        raise CheckError(f"{path}: not a CloudFormation template (no Resources)")
    return data


def _as_list(value) -> list:
    if value is None:
        return []
    return value if isinstance(value, list) else [value]


def _logical_id(ref) -> str | None:
    """The logical id behind {"Fn::GetAtt": [X, "Arn"]} or {"Ref": X}."""
    if isinstance(ref, dict):
        if "Fn::GetAtt" in ref:
            target = ref["Fn::GetAtt"]
            return target[0] if isinstance(target, list) else str(target).split(".", 1)[0]
        if "Ref" in ref:
            return ref["Ref"]
    return None


def _dynopilot_function(resources: dict, where: str) -> tuple[str, dict]:
    """The one dynopilot function: a Lambda with handler bootstrap (custom-resource
    helpers CDK may add are not ours)."""
    found = [
        (lid, r)
        for lid, r in resources.items()
        if r.get("Type") in FUNCTION_TYPES and r.get("Properties", {}).get("Handler") == "bootstrap"
    ]
    if len(found) != 1:
        raise CheckError(f"{where}: expected exactly one Lambda function with Handler bootstrap, found {len(found)}")
    return found[0]


def role_statements(template: dict, where: str) -> list[dict]:
    """Every identity-policy statement that reaches the dynopilot function's role."""
    resources = template["Resources"]
    fn_id, fn = _dynopilot_function(resources, where)
    props = fn.get("Properties", {})
    role_ref = props.get("Role")

    if role_ref is None:
        if fn["Type"] != "AWS::Serverless::Function":
            raise CheckError(f"{where}: function {fn_id} has no Role")
        # SAM generates the role: Policies plus AWSLambdaBasicExecutionRole, which grants
        # its logs actions on "*". Modelled so the wildcard check reports it.
        statements = [
            {
                "Sid": "(SAM AWSLambdaBasicExecutionRole)",
                "Effect": "Allow",
                "Action": ["logs:CreateLogGroup", "logs:CreateLogStream", "logs:PutLogEvents"],
                "Resource": "*",
            }
        ]
        for policy in _as_list(props.get("Policies")):
            if isinstance(policy, dict) and "Statement" in policy:
                statements.extend(_as_list(policy["Statement"]))
            else:
                raise CheckError(
                    f"{where}: function {fn_id} uses the managed policy or policy template {policy!r}; "
                    "use inline statements so their actions can be checked"
                )
        return statements

    role_id = _logical_id(role_ref)
    if role_id is None or role_id not in resources:
        raise CheckError(f"{where}: function {fn_id} uses a role defined outside the template ({role_ref!r})")
    role = resources[role_id]
    if role.get("Type") != "AWS::IAM::Role":
        raise CheckError(f"{where}: {role_id} is {role.get('Type')}, not an AWS::IAM::Role")
    role_props = role.get("Properties", {})
    if role_props.get("ManagedPolicyArns"):
        raise CheckError(
            f"{where}: role {role_id} has managed policies {role_props['ManagedPolicyArns']!r}; "
            "their actions cannot be checked - use inline statements"
        )
    statements = []
    for policy in _as_list(role_props.get("Policies")):
        statements.extend(_as_list(policy.get("PolicyDocument", {}).get("Statement")))
    # Separate policy resources attached to the role (CDK's DefaultPolicy, for one).
    for lid, res in resources.items():
        if res.get("Type") not in {"AWS::IAM::Policy", "AWS::IAM::ManagedPolicy"}:
            continue
        attached = [_logical_id(r) for r in _as_list(res.get("Properties", {}).get("Roles"))]
        if role_id in attached:
            statements.extend(_as_list(res["Properties"].get("PolicyDocument", {}).get("Statement")))
    return statements


def _resource_texts(resource) -> list[str]:
    """Resource expressions as text (every Fn::If branch), for the "*" check and the report."""
    if isinstance(resource, str):
        return [resource]
    if isinstance(resource, list):
        return [t for r in resource for t in _resource_texts(r)]
    if isinstance(resource, dict):
        if resource == {"Ref": "AWS::NoValue"}:
            return []
        if "Fn::If" in resource:
            _, yes, no = resource["Fn::If"]
            return _resource_texts(yes) + _resource_texts(no)
        if "Fn::Join" in resource:
            sep, parts = resource["Fn::Join"]
            return [sep.join(json.dumps(p, sort_keys=True) if not isinstance(p, str) else p for p in parts)]
        if "Fn::Sub" in resource:
            sub = resource["Fn::Sub"]
            return [sub if isinstance(sub, str) else sub[0]]
        return [json.dumps(resource, sort_keys=True)]
    return [repr(resource)]


def granted_actions(statements: list[dict], where: str, problems: list[str]) -> dict[str, list[str]]:
    """Action -> resources; appends every rule violation to problems."""
    granted: dict[str, list[str]] = {}
    for st in statements:
        sid = st.get("Sid", "(no Sid)")
        for key in ("NotAction", "NotResource"):
            if key in st:
                problems.append(f"{where}: statement {sid} uses {key}")
        if st.get("Effect") != "Allow":
            problems.append(f"{where}: statement {sid} has Effect {st.get('Effect')!r}; only Allow is expected")
            continue
        actions = _as_list(st.get("Action"))
        resources = _resource_texts(st.get("Resource"))
        if not resources:
            problems.append(f"{where}: statement {sid} names no resource")
        for action in actions:
            if not isinstance(action, str):
                problems.append(f"{where}: statement {sid} has a computed action {action!r}")
                continue
            if "*" in action or "?" in action:
                problems.append(f"{where}: statement {sid} grants the wildcard action {action}")
            if "*" in resources and action not in STAR_RESOURCE_ALLOWED:
                problems.append(f"{where}: statement {sid} grants {action} on resource \"*\"")
            granted.setdefault(action, []).extend(resources)
    return granted


# ---------------------------------------------------------------------------------------
# Code
# ---------------------------------------------------------------------------------------


def _snake_to_pascal(name: str) -> str:
    return "".join(part[:1].upper() + part[1:] for part in name.split("_"))


def sdk_operations(crate: str) -> tuple[set[str], str]:
    """Operation names of an SDK crate: src/operation/ of its newest copy in the cargo
    registry, else FALLBACK_OPERATIONS. Returns (names, where they came from)."""
    import os

    cargo_home = Path(os.environ.get("CARGO_HOME", Path.home() / ".cargo"))
    dash = crate.replace("_", "-")
    candidates = sorted(
        (cargo_home / "registry" / "src").glob(f"*/{dash}-[0-9]*/src/operation"),
        key=lambda p: [int(x) if x.isdigit() else x for x in re.split(r"[.-]", p.parent.parent.name)],
    )
    if candidates:
        ops = {p.stem for p in candidates[-1].iterdir() if p.suffix == ".rs" and p.stem != "mod"}
        if ops:
            return ops, candidates[-1].parent.parent.name
    return set(FALLBACK_OPERATIONS[crate].split()), "built-in list"


# Calls made only by the second function, `dynopilot-http` (the log-drain receiver's
# one TransactWriteItems per POST), which the templates do not deploy yet: they are
# not the scheduled function's to grant. Keyed by file (relative to src/) and action.
HTTP_FUNCTION_ONLY = frozenset({("drain_store/dynamodb.rs", "dynamodb:TransactWriteItems")})

_CALL = re.compile(r"\.\s*([a-z][a-z0-9_]*)\s*\(\s*\)")


def code_actions(src: Path) -> tuple[dict[str, list[str]], list[str]]:
    """IAM action -> places ("file:line") found in src/, and notes on where operation
    names came from. Code after a `#[cfg(test)]` line is skipped (test-only calls)."""
    found: dict[str, list[str]] = {}
    notes: list[str] = []
    ops_cache: dict[str, set[str]] = {}
    for path in sorted(src.rglob("*.rs")):
        text = path.read_text(encoding="utf-8", errors="replace")
        crates = [c for c in SDK_SERVICES if c in text]
        if not crates:
            continue
        lines = text.splitlines()
        for crate in crates:
            if crate not in ops_cache:
                ops_cache[crate], origin = sdk_operations(crate)
                notes.append(f"{crate} operations from {origin}")
        for lineno, line in enumerate(lines, 1):
            if line.strip().startswith("#[cfg(test)]"):
                break
            code = line.split("//", 1)[0]
            for name in _CALL.findall(code):
                for crate in crates:
                    if name in ops_cache[crate]:
                        action = f"{SDK_SERVICES[crate]}:{_snake_to_pascal(name)}"
                        if (path.relative_to(src).as_posix(), action) in HTTP_FUNCTION_ONLY:
                            note = f"{action} in {path.relative_to(src).as_posix()}: dynopilot-http only (not deployed by the templates yet)"
                            if note not in notes:
                                notes.append(note)
                            continue
                        found.setdefault(action, []).append(f"{path.relative_to(src.parent)}:{lineno}")
    return found, notes


# ---------------------------------------------------------------------------------------
# Comparison
# ---------------------------------------------------------------------------------------


def run(sam: Path, cdk: Path, src: Path, override: list[str] | None, out=sys.stdout) -> int:
    problems: list[str] = []
    try:
        sam_granted = granted_actions(role_statements(load_template(sam), "SAM"), "SAM", problems)
        cdk_granted = granted_actions(role_statements(load_template(cdk), "CDK"), "CDK", problems)
    except CheckError as err:
        print(f"iam_check: FAILED: {err}", file=out)
        return 1

    if override is not None:
        code = {a: ["--code-actions"] for a in override}
        print(f"iam_check: code actions from --code-actions ({len(code)})", file=out)
    else:
        code, notes = code_actions(src)
        if code:
            print(f"iam_check: code actions from AWS SDK calls found in {src.name}/ ({'; '.join(notes)})", file=out)
        else:
            code = {a: ["contract"] for a in sorted(CONTRACT_ACTIONS)}
            print(
                f"iam_check: no AWS SDK calls found in {src.name}/ - using the contracted list of the "
                "Lambda code instead (re-run once the Lambda code lands)",
                file=out,
            )

    allowed = set(code) | set(SERVICE_ACTIONS)
    every = sorted(set(sam_granted) | set(cdk_granted) | set(code))
    print(f"\n  {'action':28} {'code':5} {'SAM':5} {'CDK':5} why", file=out)
    for action in every:
        why = SERVICE_ACTIONS.get(action) or ", ".join(sorted(set(code.get(action, []))))
        marks = ["yes" if action in s else "-" for s in (code, sam_granted, cdk_granted)]
        print(f"  {action:28} {marks[0]:5} {marks[1]:5} {marks[2]:5} {why}", file=out)
    print(file=out)

    for action in sorted(set(sam_granted) ^ set(cdk_granted)):
        side, other = ("SAM", "CDK") if action in sam_granted else ("CDK", "SAM")
        problems.append(f"{side} grants {action} but {other} does not")
    for name, granted in (("SAM", sam_granted), ("CDK", cdk_granted)):
        for action in sorted(set(granted) - allowed):
            problems.append(f"{name} grants {action}, which the code does not use")
        for action in sorted(set(code) - set(granted)):
            problems.append(f"{name} does not grant {action}, which the code uses ({', '.join(code[action])})")
        for action in sorted(set(SERVICE_ACTIONS) - set(granted)):
            problems.append(f"{name} does not grant {action} ({SERVICE_ACTIONS[action]})")

    if problems:
        for p in problems:
            print(f"iam_check: FAILED: {p}", file=out)
        return 1
    print(f"iam_check: OK - SAM and CDK grant the same {len(sam_granted)} actions, none unused, no wildcard", file=out)
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sam", type=Path, default=ROOT / "template.yaml")
    parser.add_argument("--cdk", type=Path, default=ROOT / "infra" / "cdk.out" / "Dynopilot.template.json")
    parser.add_argument("--src", type=Path, default=ROOT / "src")
    parser.add_argument(
        "--code-actions",
        help="comma-separated IAM actions standing in for the scan of src/ (for tests)",
    )
    args = parser.parse_args(argv)
    override = None
    if args.code_actions is not None:
        override = [a.strip() for a in args.code_actions.split(",") if a.strip()]
    if not args.cdk.is_file():
        print(f"iam_check: FAILED: {args.cdk} is missing - run tests/run (it synthesizes the CDK app first)")
        return 1
    return run(args.sam, args.cdk, args.src, override)


if __name__ == "__main__":
    sys.exit(main())
