#!/usr/bin/env python3
"""Compare the IAM actions the deploy templates grant with the AWS calls the code makes.

The stack has three functions, each with its own role (FUNCTIONS): the every-minute
decision run (dynopilot-lambda), the daily tune (the same binary, given more memory) and
the Function URL's drain receiver and status page (dynopilot-http). For each, reads its execution role from
  - the SAM template (template.yaml), and
  - the synthesized CDK template (infra/cdk.out/<stack>.template.json),
and the AWS SDK operations its code calls, found in src/: in every file that names
aws_sdk_dynamodb / aws_sdk_sesv2 / aws_sdk_ssm, each fluent operation call such as
`.get_item()` becomes the IAM action `dynamodb:GetItem` (snake_case -> PascalCase; SESv2's
IAM prefix is `ses`). `TransactWriteItems` is no IAM action: DynamoDB authorizes each
action inside it as PutItem / UpdateItem / DeleteItem / ConditionCheckItem, so the kinds
the file builds (`Put::builder()`...) are what it needs. Which files (and, where a file
serves both functions, which of its calls) belong to which function is declared in
FUNCTIONS; a file with SDK calls that no function claims fails the check. Without SDK
calls in src/ the contracted lists stand in; the output says which source was used.

Fails (exit 1) when
  - SAM and CDK grant a function different actions,
  - either grants a function an action that is neither called by its code nor used by
    the Lambda service itself on the function's behalf (its service actions),
  - a function's code calls an action that a template does not grant it,
  - a file with SDK calls is claimed by no function, or a declared call is not in its file,
  - a statement uses a wildcard action, NotAction/NotResource, Deny, a "*" resource, or
    the role carries managed policies (whose actions this check cannot see).

Usage: tests/iam_check.py [--sam PATH] [--cdk PATH] [--src DIR] [--code-actions FUNCTION=A,B,...]...
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from dataclasses import dataclass
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent

# Actions the Lambda service performs with an execution role, not the code: writing the
# function's log (which also carries the EMF metrics) and, for the asynchronously invoked
# decision run, handing a failed event to the on-failure destination queue.
LOG_ACTIONS = {
    "logs:CreateLogStream": "Lambda writes the function's log stream",
    "logs:PutLogEvents": "Lambda writes the function's log (and EMF metrics)",
}
ON_FAILURE_ACTIONS = {
    "sqs:SendMessage": "Lambda sends failed async events to the on-failure destination",
}

ALL = None  # in FUNCTIONS: every SDK call the file makes


@dataclass(frozen=True)
class Function:
    """One deployed function: its logical id (SAM; CDK's ids start with it), the binary it
    runs, the source files whose SDK calls it makes (path under src/ -> ALL, or the
    snake_case operations of that file it reaches when the file serves both functions),
    what its code calls by contract (used while src/ has no SDK calls) and what the
    Lambda service does with its role."""

    binary: str
    purpose: str
    files: dict
    contract: frozenset
    service: dict


FUNCTIONS = {
    "DynopilotFunction": Function(
        binary="dynopilot-lambda",
        purpose="the every-minute decision run",
        files={
            "store/dynamodb.rs": ALL,
            "history/dynamodb.rs": ALL,
            # It reads the drain's minutes; the receiver writes them.
            "drain_store/dynamodb.rs": frozenset({"batch_get_item"}),
            "notify/ses.rs": ALL,
            "secrets/ssm.rs": ALL,
        },
        contract=frozenset(
            {"dynamodb:BatchGetItem", "dynamodb:GetItem", "dynamodb:PutItem", "ses:SendEmail", "ssm:GetParameter"}
        ),
        service={**LOG_ACTIONS, **ON_FAILURE_ACTIONS},
    ),
    "TuneFunction": Function(
        binary="dynopilot-lambda",
        purpose='the daily tune, {"action": "tune"}',
        files={
            # Reads state and history, stores the tuned choice in the state item.
            "store/dynamodb.rs": ALL,
            "history/dynamodb.rs": frozenset({"get_item"}),
            "notify/ses.rs": ALL,
            "secrets/ssm.rs": ALL,
        },
        contract=frozenset({"dynamodb:GetItem", "dynamodb:PutItem", "ses:SendEmail", "ssm:GetParameter"}),
        service=dict(LOG_ACTIONS),
    ),
    "HttpFunction": Function(
        binary="dynopilot-http",
        purpose="the Function URL: POST /drain and GET /status",
        files={
            # One TransactWriteItems per POST (Update with ADD per minute, a conditional Put
            # of the frame id); the status page reads state and history items.
            "drain_store/dynamodb.rs": frozenset({"transact_write_items"}),
            "store/dynamodb.rs": frozenset({"get_item"}),
            "history/dynamodb.rs": frozenset({"get_item"}),
            "secrets/ssm.rs": ALL,
        },
        contract=frozenset({"dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:UpdateItem", "ssm:GetParameter"}),
        service=dict(LOG_ACTIONS),
    ),
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


def _function(resources: dict, name: str, where: str) -> tuple[str, dict]:
    """The function FUNCTIONS calls `name`: the Lambda with handler bootstrap whose logical
    id is `name` (SAM) or starts with it (CDK adds a hash). Custom-resource helpers CDK may
    add have other handlers and are not ours."""
    found = [
        (lid, r)
        for lid, r in resources.items()
        if lid.startswith(name)
        and r.get("Type") in FUNCTION_TYPES
        and r.get("Properties", {}).get("Handler") == "bootstrap"
    ]
    if len(found) != 1:
        raise CheckError(f"{where}: expected exactly one Lambda function {name}* with Handler bootstrap, found {len(found)}")
    return found[0]


def unknown_functions(template: dict, where: str) -> list[str]:
    """Problems for bootstrap functions FUNCTIONS does not describe (their IAM would go unchecked)."""
    return [
        f"{where}: function {lid} is not in iam_check.FUNCTIONS, so its role cannot be checked"
        for lid, r in template["Resources"].items()
        if r.get("Type") in FUNCTION_TYPES
        and r.get("Properties", {}).get("Handler") == "bootstrap"
        and not any(lid.startswith(name) for name in FUNCTIONS)
    ]


def role_statements(template: dict, where: str, name: str = "DynopilotFunction") -> list[dict]:
    """Every identity-policy statement that reaches the role of the function `name`."""
    resources = template["Resources"]
    fn_id, fn = _function(resources, name, where)
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


_CALL = re.compile(r"\.\s*([a-z][a-z0-9_]*)\s*\(\s*\)")

# TransactWriteItems has no IAM action of its own: each action inside it is authorized as
# the single-item operation it performs. The file's builders say which kinds it uses.
TRANSACTION_KINDS = {"Put": "PutItem", "Update": "UpdateItem", "Delete": "DeleteItem", "ConditionCheck": "ConditionCheckItem"}
_TRANSACT_BUILDER = re.compile(r"\b(Put|Update|Delete|ConditionCheck)::builder\s*\(")


def code_calls(src: Path) -> tuple[dict[str, list[tuple[str, str, str]]], list[str]]:
    """Per file (path under src/): its SDK calls as (operation, IAM action, "file:line"),
    and notes on where operation names came from. Code after a `#[cfg(test)]` line is
    skipped (test-only calls)."""
    calls: dict[str, list[tuple[str, str, str]]] = {}
    notes: list[str] = []
    ops_cache: dict[str, set[str]] = {}
    for path in sorted(src.rglob("*.rs")):
        text = path.read_text(encoding="utf-8", errors="replace")
        crates = [c for c in SDK_SERVICES if c in text]
        if not crates:
            continue
        rel = path.relative_to(src).as_posix()
        lines = text.splitlines()
        for crate in crates:
            if crate not in ops_cache:
                ops_cache[crate], origin = sdk_operations(crate)
                notes.append(f"{crate} operations from {origin}")
        body = []
        for line in lines:
            if line.strip().startswith("#[cfg(test)]"):
                break
            body.append(line.split("//", 1)[0])
        kinds = sorted({TRANSACTION_KINDS[k] for k in _TRANSACT_BUILDER.findall("\n".join(body))})
        for lineno, code in enumerate(body, 1):
            for name in _CALL.findall(code):
                for crate in crates:
                    if name not in ops_cache[crate]:
                        continue
                    place = f"{path.relative_to(src.parent)}:{lineno}"
                    service = SDK_SERVICES[crate]
                    if service == "dynamodb" and name == "transact_write_items":
                        if not kinds:
                            calls.setdefault(rel, []).append((name, "dynamodb:TransactWriteItems(no action kinds found)", place))
                        for kind in kinds:
                            calls.setdefault(rel, []).append((name, f"dynamodb:{kind}", f"{place} (in TransactWriteItems)"))
                    else:
                        calls.setdefault(rel, []).append((name, f"{service}:{_snake_to_pascal(name)}", place))
    return calls, notes


def code_actions(src: Path) -> tuple[dict[str, dict[str, list[str]]], list[str], list[str]]:
    """Per function of FUNCTIONS: IAM action -> places in src/ its code calls it; notes;
    and problems (a file with SDK calls no function claims, a declared call missing)."""
    calls, notes = code_calls(src)
    found: dict[str, dict[str, list[str]]] = {name: {} for name in FUNCTIONS}
    problems: list[str] = []
    claimed = set()
    for name, fn in FUNCTIONS.items():
        for rel, ops in fn.files.items():
            if rel not in calls:
                continue
            claimed.add(rel)
            present = {op for op, _, _ in calls[rel]}
            for op in sorted((ops or set()) - present):
                problems.append(f"FUNCTIONS says {name} calls {op} in src/{rel}, but the file makes no such call")
            for op, action, place in calls[rel]:
                if ops is ALL or op in ops:
                    found[name].setdefault(action, []).append(place)
    for rel in sorted(set(calls) - claimed):
        ops = ", ".join(sorted({op for op, _, _ in calls[rel]}))
        problems.append(f"src/{rel} calls {ops}, but no function in iam_check.FUNCTIONS claims the file")
    return found, notes, problems


# ---------------------------------------------------------------------------------------
# Comparison
# ---------------------------------------------------------------------------------------


def run(sam: Path, cdk: Path, src: Path, override: dict[str, list[str]] | None, out=sys.stdout) -> int:
    """Checks every function of FUNCTIONS; `override` (function -> actions) stands in for
    the scan of src/ (for tests)."""
    problems: list[str] = []
    try:
        sam_t, cdk_t = load_template(sam), load_template(cdk)
        granted = {
            name: (
                granted_actions(role_statements(sam_t, f"SAM {name}", name), f"SAM {name}", problems),
                granted_actions(role_statements(cdk_t, f"CDK {name}", name), f"CDK {name}", problems),
            )
            for name in FUNCTIONS
        }
    except CheckError as err:
        print(f"iam_check: FAILED: {err}", file=out)
        return 1
    problems += unknown_functions(sam_t, "SAM") + unknown_functions(cdk_t, "CDK")
    roles = {
        name: (_role_id(sam_t, name), _role_id(cdk_t, name))
        for name in FUNCTIONS
    }
    for side, index in (("SAM", 0), ("CDK", 1)):
        ids = [r[index] for r in roles.values() if r[index] is not None]
        if len(set(ids)) != len(ids):
            problems.append(f"{side}: the functions share a role; each needs its own (least privilege)")

    if override is not None:
        code = {name: {a: ["--code-actions"] for a in override.get(name, [])} for name in FUNCTIONS}
        print("iam_check: code actions from --code-actions", file=out)
    else:
        code, notes, scan_problems = code_actions(src)
        problems += scan_problems
        if any(code.values()):
            print(f"iam_check: code actions from AWS SDK calls found in {src.name}/ ({'; '.join(notes)})", file=out)
        else:
            code = {name: {a: ["contract"] for a in sorted(fn.contract)} for name, fn in FUNCTIONS.items()}
            print(
                f"iam_check: no AWS SDK calls found in {src.name}/ - using the contracted lists of the "
                "functions instead",
                file=out,
            )

    total = 0
    for name, fn in FUNCTIONS.items():
        sam_granted, cdk_granted = granted[name]
        fn_code = code[name]
        allowed = set(fn_code) | set(fn.service)
        print(f"\n{name} ({fn.binary}: {fn.purpose})", file=out)
        print(f"  {'action':28} {'code':5} {'SAM':5} {'CDK':5} why", file=out)
        for action in sorted(set(sam_granted) | set(cdk_granted) | set(fn_code)):
            why = fn.service.get(action) or ", ".join(sorted(set(fn_code.get(action, []))))
            marks = ["yes" if action in x else "-" for x in (fn_code, sam_granted, cdk_granted)]
            print(f"  {action:28} {marks[0]:5} {marks[1]:5} {marks[2]:5} {why}", file=out)
        for action in sorted(set(sam_granted) ^ set(cdk_granted)):
            side, other = ("SAM", "CDK") if action in sam_granted else ("CDK", "SAM")
            problems.append(f"{side} grants {action} to {name} but {other} does not")
        for side, g in (("SAM", sam_granted), ("CDK", cdk_granted)):
            for action in sorted(set(g) - allowed):
                problems.append(f"{side} grants {action} to {name}, whose code does not use it")
            for action in sorted(set(fn_code) - set(g)):
                problems.append(f"{side} does not grant {action} to {name}, whose code uses it ({', '.join(fn_code[action])})")
            for action in sorted(set(fn.service) - set(g)):
                problems.append(f"{side} does not grant {action} to {name} ({fn.service[action]})")
        total += len(sam_granted)
    print(file=out)

    if problems:
        for p in problems:
            print(f"iam_check: FAILED: {p}", file=out)
        return 1
    counts = ", ".join(f"{name} {len(granted[name][0])}" for name in FUNCTIONS)
    print(
        f"iam_check: OK - SAM and CDK grant each function the same actions ({counts}), none unused, no wildcard",
        file=out,
    )
    return 0


def _role_id(template: dict, name: str) -> str | None:
    _, fn = _function(template["Resources"], name, name)
    return _logical_id(fn.get("Properties", {}).get("Role"))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sam", type=Path, default=ROOT / "template.yaml")
    parser.add_argument("--cdk", type=Path, default=ROOT / "infra" / "cdk.out" / "Dynopilot.template.json")
    parser.add_argument("--src", type=Path, default=ROOT / "src")
    parser.add_argument(
        "--code-actions",
        action="append",
        metavar="FUNCTION=A,B,...",
        help="a function's IAM actions standing in for the scan of src/ (for tests; repeat per function)",
    )
    args = parser.parse_args(argv)
    override = None
    if args.code_actions is not None:
        override = {}
        for item in args.code_actions:
            name, _, actions = item.partition("=")
            if name not in FUNCTIONS:
                parser.error(f"--code-actions: unknown function {name!r} (one of {', '.join(FUNCTIONS)})")
            override[name] = [a.strip() for a in actions.split(",") if a.strip()]
    if not args.cdk.is_file():
        print(f"iam_check: FAILED: {args.cdk} is missing - run tests/run (it synthesizes the CDK app first)")
        return 1
    return run(args.sam, args.cdk, args.src, override)


if __name__ == "__main__":
    sys.exit(main())
