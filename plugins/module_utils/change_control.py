"""Change control: who may change an environment, from where, with what (controller side).

An environment's policy is ``stackguard_change_control`` in its inventory
(``inventories/<env>/group_vars/all/change_control.yml``); an environment without one (Molecule,
tests) gets ``DEFAULT_POLICY``, which requires nothing. ``evaluate`` judges one run against the
policy and returns every refusal as text that says what was refused, why, and what to do instead
(``refusal``); the preflight role asserts on it, before any host changes.

- Pipeline: ``require_pipeline`` accepts a run only when the CI identity holds (``ci_identity``:
  variables with set values such as ``CI=true``, a pipeline run id in one of ``run_id_env``, and the
  ``branch``, read from ``ref_env`` such as ``GITHUB_REF=refs/heads/main`` or else from the
  checkout), or, when ``break_glass`` is allowed, with ``-e change_ticket=<id>`` matching
  ``change_ticket_pattern`` (the role then asks for an interactive confirmation).
- Pins: ``pinned_only`` refuses a run whose release or stack differs from the inventory file's, and
  ``allowed_extra_vars`` names the only ``-e`` variables accepted.
- Checkout: ``require_clean_checkout`` refuses uncommitted changes (elsewhere they are a warning).
- ``require_promotion_from`` and ``record_promotions`` are read by the promotion checks.

Nothing here is a security boundary against someone who sets the variables by hand: it stops
accidents. What keeps people out of production is that its credentials live only in the pipeline.

Shared by the change_control, inventory_guard, promotion and toolchain lookups and the unit tests.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess

DEFAULT_TICKET_PATTERN = r"^[A-Z][A-Z0-9]*-[0-9]+$"

DEFAULT_POLICY = {
    "require_pipeline": False,
    "ci_identity": None,
    "break_glass": False,
    "change_ticket_pattern": DEFAULT_TICKET_PATTERN,
    "require_clean_checkout": False,
    "pinned_only": False,
    "allowed_extra_vars": None,
    "require_promotion_from": None,
    "record_promotions": False,
}

CI_IDENTITY_KEYS = ("env", "run_id_env", "branch", "ref_env")
RELEASE_VARIABLES = ("stackguard_app_release", "app_release", "app_deploy_release")
STACK_VARIABLES = ("stackguard_stack",)


class PolicyError(ValueError):
    """A change-control policy that cannot be used. The message names the file and the field."""


def refusal(what, why, instead):
    """The one shape of every refusal: what was refused, why, and what to do instead."""
    return f"Refused: {what}. Why: {why}. Instead: {instead}."


def plain(value):
    """``value`` as plain dicts, lists and texts (what a lookup receives may be lazy or tagged)."""
    if isinstance(value, dict):
        return {str(k): plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [plain(v) for v in value]
    if isinstance(value, bool) or value is None:
        return value
    if isinstance(value, int):
        return int(value)
    if isinstance(value, float):
        return float(value)
    return str(value)


# Policy ---------------------------------------------------------------------------------------

def _is_text(value):
    return isinstance(value, str) and value.strip() != ""


def _text_list(value):
    return isinstance(value, list) and all(_is_text(item) for item in value)


def _check_ci_identity(value, where, errors):
    if not isinstance(value, dict):
        errors.append(f"{where}: expected a mapping {{env, run_id_env, branch, ref_env}}")
        return
    for key in value:
        if key not in CI_IDENTITY_KEYS:
            errors.append(f"{where}.{key}: unknown field (known: {', '.join(CI_IDENTITY_KEYS)})")
    env = value.get("env", {})
    if not isinstance(env, dict) or not all(_is_text(k) and isinstance(v, str) for k, v in env.items()):
        errors.append(f"{where}.env: expected a mapping of variable names to the values they must have")
    if not _text_list(value.get("run_id_env")) or not value.get("run_id_env"):
        errors.append(f"{where}.run_id_env: expected a non-empty list of variable names (e.g. [GITHUB_RUN_ID])")
    if not _is_text(value.get("branch")):
        errors.append(f"{where}.branch: expected the branch production is deployed from (e.g. main)")
    if "ref_env" in value and value["ref_env"] is not None and not _is_text(value["ref_env"]):
        errors.append(f"{where}.ref_env: expected a variable name (e.g. GITHUB_REF)")


def parse_policy(data, source):
    """``data`` (the ``stackguard_change_control`` value, or None) as a complete policy.

    Unknown fields, wrong types and a pipeline requirement without a CI identity are errors naming
    ``source`` and the field.
    """
    if data is None:
        return dict(DEFAULT_POLICY)
    where = f"{source}: stackguard_change_control"
    if not isinstance(data, dict):
        raise PolicyError(f"{where}: expected a mapping, got {type(data).__name__}")
    errors = []
    for key in data:
        if key not in DEFAULT_POLICY:
            errors.append(f"{where}.{key}: unknown field (known: {', '.join(sorted(DEFAULT_POLICY))})")
    policy = dict(DEFAULT_POLICY, **{k: v for k, v in data.items() if k in DEFAULT_POLICY})
    for key in ("require_pipeline", "break_glass", "require_clean_checkout", "pinned_only", "record_promotions"):
        if not isinstance(policy[key], bool):
            errors.append(f"{where}.{key}: expected true or false, got {policy[key]!r}")
    if policy["ci_identity"] is not None:
        _check_ci_identity(policy["ci_identity"], f"{where}.ci_identity", errors)
    elif policy["require_pipeline"] is True:
        errors.append(f"{where}.ci_identity: required when require_pipeline is true "
                      "(how a pipeline run is recognised)")
    pattern = policy["change_ticket_pattern"]
    if not _is_text(pattern):
        errors.append(f"{where}.change_ticket_pattern: expected a regular expression")
    else:
        try:
            re.compile(pattern)
        except re.error as exc:
            errors.append(f"{where}.change_ticket_pattern: not a regular expression ({exc})")
    if policy["allowed_extra_vars"] is not None and not _text_list(policy["allowed_extra_vars"]):
        errors.append(f"{where}.allowed_extra_vars: expected a list of variable names")
    if policy["require_promotion_from"] is not None and not _is_text(policy["require_promotion_from"]):
        errors.append(f"{where}.require_promotion_from: expected an environment name")
    if errors:
        raise PolicyError("invalid change-control policy:\n  " + "\n  ".join(errors))
    return policy


# Checkout -------------------------------------------------------------------------------------

def checkout_state(directory, run=subprocess.run, git=None):
    """``{path, commit, branch, dirty, changes}`` of the git checkout holding ``directory``.

    ``changes`` are ``git status --porcelain`` lines (tracked changes and untracked files that are
    not ignored); outside a checkout (or without git) ``commit`` is None and ``dirty`` is None.
    """
    state = {"path": os.path.abspath(directory), "commit": None, "branch": None, "dirty": None, "changes": []}
    git = git or shutil.which("git")
    if not git:
        return state

    def _git(*args):
        return run([git, "-C", directory, *args], capture_output=True, text=True, timeout=30,
                   env=dict(os.environ, LC_ALL="C"), check=False)

    try:
        top = _git("rev-parse", "--show-toplevel")
        if top.returncode != 0:
            return state
        state["path"] = top.stdout.strip()
        head = _git("rev-parse", "--verify", "-q", "HEAD")
        status = _git("status", "--porcelain=v1", "--untracked-files=normal")
        branch = _git("symbolic-ref", "--short", "-q", "HEAD")
    except (OSError, subprocess.SubprocessError):
        return state
    state["commit"] = (head.stdout.strip() or None) if head.returncode == 0 else None
    state["branch"] = (branch.stdout.strip() or None) if branch.returncode == 0 else None
    if status.returncode == 0:
        state["changes"] = [line for line in status.stdout.splitlines() if line.strip()]
        state["dirty"] = bool(state["changes"])
    return state


def _listed(items, limit=10):
    shown = ", ".join(items[:limit])
    return shown + (f" and {len(items) - limit} more" if len(items) > limit else "")


def checkout_verdict(policy, checkout, environment, policy_source):
    """``(refusal or None, warning or None)`` for the checkout the run comes from."""
    if checkout["commit"] is None:
        what = f"a run of {environment} from {checkout['path']}, which is not a git checkout with a commit"
        if policy["require_clean_checkout"]:
            return refusal(what, f"{environment}'s policy ({policy_source}) records the commit of every run",
                           "run from a clone of the repository"), None
        return None, f"{what}: no commit is recorded for this run"
    if not checkout["dirty"]:
        return None, None
    changes = _listed([line[3:] for line in checkout["changes"]])
    if policy["require_clean_checkout"]:
        return refusal(
            f"a run of {environment} from a checkout with uncommitted changes ({changes})",
            f"{environment}'s policy ({policy_source}) runs only committed, reviewed code, so that "
            f"commit {checkout['commit'][:12]} is what really ran",
            "commit the change, get it reviewed and merged, and let the pipeline run it "
            "(or run from a clean clone)"), None
    return None, (f"the checkout {checkout['path']} has uncommitted changes ({changes}); this run is "
                  f"recorded as commit {checkout['commit'][:12]} plus those changes")


# Pipeline identity and break-glass ------------------------------------------------------------

def pipeline_identity(ci_identity, environ, checkout_branch):
    """``{identified, run_id, branch, missing}``: whether this process runs in the declared pipeline."""
    if not ci_identity:
        return {"identified": False, "run_id": None, "branch": None, "missing": ["no CI identity is declared"]}
    missing = []
    for name, wanted in sorted((ci_identity.get("env") or {}).items()):
        actual = environ.get(name)
        if actual != wanted:
            missing.append(f"{name}={wanted} ({name} is {'unset' if actual is None else repr(actual)})")
    run_id = next((environ[name] for name in ci_identity["run_id_env"] if environ.get(name)), None)
    if run_id is None:
        missing.append(f"a pipeline run id in {' or '.join(ci_identity['run_id_env'])} (unset)")
    ref_env = ci_identity.get("ref_env")
    ref = environ.get(ref_env) if ref_env else None
    if ref:
        branch = ref[len("refs/heads/"):] if ref.startswith("refs/heads/") else None
        seen = f"{ref_env} is {ref!r}"
    else:
        branch = checkout_branch
        seen = f"the checkout is on {'a detached HEAD' if branch is None else 'branch ' + repr(branch)}"
    if branch != ci_identity["branch"]:
        wanted = f"{ref_env}=refs/heads/{ci_identity['branch']} or a checkout" if ref_env else "a checkout"
        missing.append(f"branch {ci_identity['branch']} ({wanted} of it; {seen})")
    return {"identified": not missing, "run_id": run_id, "branch": branch, "missing": missing}


def pipeline_verdict(policy, identity, ticket, environment, policy_source):
    """``(mode, refusal)``: mode is ``not-required``, ``pipeline``, ``break-glass`` (the role must
    still get the interactive confirmation) or ``refused``."""
    if not policy["require_pipeline"]:
        return "not-required", None
    if identity["identified"]:
        return "pipeline", None
    what = f"a run of {environment} from outside the pipeline"
    why = (f"{environment} changes only through the pipeline ({policy_source}), and this run lacks "
           + "; ".join(identity["missing"]))
    if not policy["break_glass"]:
        return "refused", refusal(what, why, "merge the change to the main branch and let the pipeline run it")
    instead = ("merge the change to the main branch and let the pipeline run it; in an emergency, break "
               "glass from an interactive terminal with -e change_ticket=<ticket id> and type the ticket "
               "id again when asked")
    ticket = "" if ticket is None else str(ticket).strip()
    if not ticket:
        return "refused", refusal(what, why + "; no change ticket was given for a break-glass run", instead)
    if not re.search(policy["change_ticket_pattern"], ticket):
        return "refused", refusal(
            f"{what} under change ticket {ticket!r}",
            f"{why}; and {ticket!r} is not a change ticket id (it must match "
            f"{policy['change_ticket_pattern']}, {policy_source})", instead)
    return "break-glass", None


# Pins and extra variables ---------------------------------------------------------------------

def normal_pin(value):
    """A pin as compared: revision 1 and "1" are one pin; None and "" are both unset."""
    if isinstance(value, dict):
        return {str(k): normal_pin(v) for k, v in value.items() if v not in (None, "")}
    if value is None:
        return ""
    return str(value)


def show_pin(value):
    if isinstance(value, dict):
        return "{" + ", ".join(f"{k}: {v}" for k, v in sorted(normal_pin(value).items())) + "}"
    return repr(value)


def override_refusals(policy, environment, extra_vars, differences, pins_source, policy_source):
    """Refusals for a run that does not use exactly what the inventory files pin.

    ``extra_vars``: the names given with ``-e``; ``differences``: the inventory guard's
    ``pin_differences`` (``{kind, hosts, run, pinned, source, comparable}``), where a run host's
    release or stack differs from its inventory file's.
    """
    refusals = []
    instead_pin = (f"pin the release and stack in {pins_source} through a reviewed commit (a release only "
                   "after staging ran the same artifact), and let the pipeline run it")
    if policy["pinned_only"]:
        for name in sorted(set(extra_vars) & set(RELEASE_VARIABLES + STACK_VARIABLES)):
            kind = "stack" if name in STACK_VARIABLES else "release"
            refusals.append(refusal(
                f"-e {name} on {environment}",
                f"{environment} runs only the {kind} its inventory pins ({pins_source}), never an ad-hoc one",
                instead_pin))
        for difference in differences:
            hosts = ", ".join(difference["hosts"])
            if not difference["comparable"]:
                refusals.append(refusal(
                    f"a run of {environment} whose {difference['kind']} pin cannot be checked ({hosts})",
                    f"the pin in {difference['source']} is a template, so the run's value cannot be compared "
                    "with what the file pins",
                    f"write the {difference['kind']} in {difference['source']} literally"))
                continue
            refusals.append(refusal(
                f"{difference['kind']} {show_pin(difference['run'])} on {environment} ({hosts})",
                f"{environment}'s inventory pins {difference['kind']} {show_pin(difference['pinned'])} "
                f"({difference['source']}) and something else in this run (an extra -e, -i or vars file) "
                "overrides it", instead_pin))
    allowed = policy["allowed_extra_vars"]
    if allowed is not None:
        handled = set(RELEASE_VARIABLES + STACK_VARIABLES) if policy["pinned_only"] else set()
        others = sorted(set(extra_vars) - set(allowed) - handled)
        if others:
            refusals.append(refusal(
                f"-e {', '.join(others)} on {environment}",
                f"{environment} takes its settings from its inventory, not from flags; its policy "
                f"({policy_source}) accepts only "
                f"{', '.join(allowed) if allowed else 'no extra variables'}",
                "change the setting in the inventory through a reviewed commit"))
    return refusals


def evaluate(*, environment, policy, policy_source, checkout, environ, ticket, extra_vars, differences,
             pins_source):
    """Judge one run. Returns ``{pipeline: {mode, refusal, run_id, branch}, checkout: {refusal,
    warning}, overrides: [refusals]}``."""
    identity = pipeline_identity(policy["ci_identity"], environ, checkout["branch"])
    mode, pipeline_refusal = pipeline_verdict(policy, identity, ticket, environment, policy_source)
    checkout_refusal, checkout_warning = checkout_verdict(policy, checkout, environment, policy_source)
    return {
        "pipeline": {"mode": mode, "refusal": pipeline_refusal, "run_id": identity["run_id"],
                     "branch": identity["branch"], "missing": identity["missing"]},
        "checkout": {"refusal": checkout_refusal, "warning": checkout_warning},
        "overrides": override_refusals(policy, environment, extra_vars, differences, pins_source,
                                       policy_source),
    }
