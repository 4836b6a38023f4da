"""`xuc provision FILE`: make the running system match a declarative YAML (or JSON) file.

The whole file is checked before anything is applied, and every problem is reported with the line
it comes from, so that a bad file changes nothing: the file itself here (`schema`, with the line
mapping of `yaml_lines`), the rules of its values by the services that own them, in one round of
validate_only calls (`apply`); then each section is applied by its service.

Absent and empty sections: users are only ever created or updated, so an absent, empty (`[]`) or
bare (`users:` with nothing under it) users section is simply nothing to do. Qualifications are
different: the file describes *all* of them, and the contacts service deactivates those it does not
list. So the qualifications section is applied only when the file gives it as a list: `[]`
deactivates every qualification, while an absent or bare `qualifications:` leaves them alone
(a bare key is a placeholder, not a request to deactivate everything). Agents and queues refer to
each other and are applied together: a file that has entries in either section describes all of
them (agents or queues it does not list are removed); a file with neither leaves them alone.
Presence statuses (`userStatuses:`) are like qualifications: a list describes all of them (an
empty one is refused by the telephony service: a user who never chose has the first status), an
absent or bare section leaves them alone.
"""

from xuc.provisioning.apply import provision
from xuc.provisioning.schema import ProvisionFile, parse
from xuc.provisioning.system import CALL_SECONDS, System, connect
from xuc.provisioning.yaml_lines import InvalidFile, Problem

__all__ = ["CALL_SECONDS", "InvalidFile", "Problem", "ProvisionFile", "System", "connect", "parse", "provision"]
