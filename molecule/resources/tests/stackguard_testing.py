"""What the scenarios' testinfra tests share: the repo's paths and the host's pinned stack."""
import json
import os
import subprocess

import yaml

REPO = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..", ".."))


def host_vars(host):
    return host.ansible.get_variables()


def stack_manifest(host):
    """The manifest the host's inventory pins, read straight from stacks/."""
    pin = host_vars(host)["stackguard_stack"]
    with open(os.path.join(REPO, "stacks", pin["name"] + ".yml"), encoding="utf-8") as handle:
        manifest = yaml.safe_load(handle)
    assert manifest["revision"] == pin["revision"]
    return manifest


def pinned_packages(host, manifest=None):
    manifest = manifest or stack_manifest(host)
    groups = host_vars(host)["group_names"]
    pinned = {}
    for group in groups:
        pinned.update(manifest["packages"].get(group, {}))
    return pinned


def http_json(host, url):
    """GET url from the host itself; returns (status, parsed JSON body)."""
    script = ("import json,urllib.request,urllib.error,sys\n"
              "try:\n r=urllib.request.urlopen(sys.argv[1],timeout=10);s=r.status;b=r.read()\n"
              "except urllib.error.HTTPError as e:\n s=e.code;b=e.read()\n"
              "print(json.dumps({'status':s,'body':b.decode()}))")
    out = host.check_output("python3 -c %s %s", script, url)
    answer = json.loads(out)
    return answer["status"], json.loads(answer["body"])


def _playbook_command(playbook, limit, extra):
    env = dict(os.environ, ANSIBLE_CONFIG=os.path.join(REPO, "ansible.cfg"), ANSIBLE_NOCOLOR="1",
               ANSIBLE_FORCE_COLOR="0")
    argv = ["ansible-playbook", "-i", os.environ["MOLECULE_INVENTORY_FILE"], "--limit", limit,
            os.path.join(REPO, "playbooks", playbook), *extra]
    return argv, env


def run_playbook(playbook, limit, *extra):
    """Run one of the repo's playbooks against the scenario's inventory, as an operator would."""
    argv, env = _playbook_command(playbook, limit, extra)
    return subprocess.run(argv, env=env, cwd=REPO, capture_output=True, text=True, timeout=600)


def start_playbook(playbook, limit, *extra):
    """The same, in the background, in its own process group (to be waited for, or killed)."""
    argv, env = _playbook_command(playbook, limit, extra)
    return subprocess.Popen(argv, env=env, cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            text=True, start_new_session=True)
