"""What the stack_facts and stack_verify modules share: running the fact gatherer in a module."""
from ansible.module_utils.stack_facts import FactGatherer


def gatherer(module):
    def run(argv):
        return module.run_command(argv, environ_update={"LC_ALL": "C"})

    return FactGatherer(run, lambda name: module.get_bin_path(name))
