"""Choose and check, on a web host, the release a rollback goes back to.

The target is `rollback_to` when given; otherwise the last known-good release when the host does
not serve it already (an automatic rollback left it there), else the newest good release deployed
before the current one. It is refused when there is none, when it is marked bad, when it is gone
from the host, or when this host's runtime cannot run it (release_compat, against facts gathered on
the host itself). ``plan`` is the rollback_plan module's whole job; the module adds the deploy lock.
"""
import os

from ansible.module_utils.release_compat import ReleaseError, run as check_release
from ansible.module_utils.release_state import load


class PlanError(Exception):
    def __init__(self, msg, **result):
        super().__init__(msg)
        self.result = result


def choose(state, rollback_to, host):
    """The release to roll back to, from the host's release record; PlanError when none fits."""
    releases = state.get("releases") or {}
    current = state.get("current")
    if rollback_to:
        target = rollback_to
    elif state.get("last_known_good") and state["last_known_good"] != current:
        target = state["last_known_good"]
    else:
        earlier = sorted((entry.get("deployed_at") or "", version)
                         for version, entry in releases.items()
                         if entry.get("status") == "good" and version != current
                         and not entry.get("pruned_at"))
        target = earlier[-1][1] if earlier else None
    if not target:
        raise PlanError(f"no earlier good release to roll back to on {host}; nothing changed")
    entry = releases.get(target) or {}
    if entry.get("status") == "bad":
        raise PlanError(f"release {target} is marked bad on {host} "
                        f"({entry.get('reason') or 'no reason recorded'}); pick another with "
                        f"-e rollback_to=<version>; nothing changed", target=target)
    return target


def plan(root, state_path, rollback_to, php_facts, host):
    """{target, current, compat}; PlanError when the rollback must not go ahead.

    `php_facts` is a callable returning the host's stack facts (called only once the target is
    known to be on the host, so a refusal for a missing release costs no command)."""
    state, _ = load(state_path)
    target = choose(state, rollback_to, host)
    release_dir = os.path.join(root, "releases", target)
    if not os.path.isfile(os.path.join(release_dir, "composer.json")):
        raise PlanError(f"release {target} is no longer on {host} ({release_dir}); deploy it "
                        f"instead; nothing changed", target=target)
    try:
        compat = check_release(release_dir, facts=php_facts(), label=host, release_version=target)
    except ReleaseError as exc:
        raise PlanError(f"release {target} on {host} cannot be checked: {exc}; nothing changed",
                        target=target) from None
    if not compat["compatible"]:
        raise PlanError(f"{compat['msg']}; nothing changed", target=target,
                        unmet=compat["unmet"])
    return dict(target=target, current=state.get("current"), compat=compat["msg"])
