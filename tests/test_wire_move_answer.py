"""dicomnet/wire/move_answer.py: the C-MOVE requests answered before pynetdicom's service runs."""

import hashlib
import inspect

from pynetdicom.service_class import QueryRetrieveServiceClass

from dicomnet.wire import move_answer


def test_the_wrapped_method_is_still_the_installed_one():
    upstream = getattr(QueryRetrieveServiceClass._move_scp, "upstream", QueryRetrieveServiceClass._move_scp)
    source = inspect.getsource(upstream)
    (expected,) = move_answer.UPSTREAM_SHA256.values()
    assert hashlib.sha256(source.encode()).hexdigest() == expected, (
        "QueryRetrieveServiceClass._move_scp changed upstream: read it again and update dicomnet/wire/move_answer.py"
    )


def test_installing_again_replaces_the_check_and_keeps_the_upstream_method():
    before = getattr(QueryRetrieveServiceClass._move_scp, "upstream", QueryRetrieveServiceClass._move_scp)
    move_answer.install(lambda assoc, request, context: None)
    move_answer.install(lambda assoc, request, context: None)
    assert QueryRetrieveServiceClass._move_scp.upstream is before
