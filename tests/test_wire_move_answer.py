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
    previous = QueryRetrieveServiceClass._move_scp
    before = getattr(previous, "upstream", previous)
    try:
        move_answer.install(lambda assoc, request, context: None)
        move_answer.install(lambda assoc, request, context: None)
        assert QueryRetrieveServiceClass._move_scp.upstream is before
    finally:
        QueryRetrieveServiceClass._move_scp = previous


def test_a_fault_in_the_check_is_answered_and_logged(caplog):
    """A check that raises is answered 0xC000, never an aborted association."""
    from types import SimpleNamespace

    from pynetdicom.dimse_primitives import C_MOVE

    sent = []

    def broken(assoc, request, context):
        raise RuntimeError("broken check")

    previous = QueryRetrieveServiceClass._move_scp
    move_answer.install(broken)
    try:
        request = C_MOVE()
        request.MessageID = 3
        request.AffectedSOPClassUID = "1.2.840.10008.5.1.4.1.2.2.2"
        service = SimpleNamespace(assoc=None, dimse=SimpleNamespace(send_msg=lambda rsp, cx: sent.append((rsp, cx))))
        QueryRetrieveServiceClass._move_scp(service, request, SimpleNamespace(context_id=5))
    finally:
        QueryRetrieveServiceClass._move_scp = previous
    ((response, context_id),) = sent
    assert (response.Status, response.MessageIDBeingRespondedTo, context_id) == (0xC000, 3, 5)
    assert "broken check" in caplog.text
