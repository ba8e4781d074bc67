"""Send the release artifact inline to the release_stage module: one round trip per host.

(The module's documentation is in plugins/modules/release_stage.py.)
"""
import base64

from ansible.errors import AnsibleActionFail
from ansible.plugins.action import ActionBase


class ActionModule(ActionBase):
    TRANSFERS_FILES = False  # the artifact travels in the module's arguments
    _supports_check_mode = True

    def run(self, tmp=None, task_vars=None):
        result = super().run(tmp, task_vars)
        del tmp
        args = dict(self._task.args)
        artifact = args.get("artifact")
        if not artifact:
            raise AnsibleActionFail("release_stage: artifact is required")
        path = self._find_needle("files", artifact) if not artifact.startswith("/") else artifact
        try:
            with open(path, "rb") as handle:
                args["artifact_content"] = base64.b64encode(handle.read()).decode("ascii")
        except OSError as exc:
            raise AnsibleActionFail(f"release_stage: cannot read the artifact {path}: {exc}")
        result.update(self._execute_module(module_name="release_stage", module_args=args,
                                           task_vars=task_vars))
        return result
