"""C-MOVE requests answered before pynetdicom's C-MOVE service runs: refusals and asynchronous moves.

pynetdicom's C-MOVE service (QueryRetrieveServiceClass._move_scp) calls the EVT_C_MOVE handler
and sends what it yields; but the only failure it lets a handler answer before it connects to
the move destination is 0xA801, and a handler that raises is logged with its traceback and
answered 0xC511/0xC514. Orthanc answers a C-MOVE that designates nothing with 0xC000 at once,
and with SynchronousCMove false answers that every sub-operation succeeded while a job sends
them. So _move_scp is wrapped: a check (dicomnet/retrieve.py move_answer) sees the request
first and either gives the final response to send, or lets pynetdicom's service run as it comes.
The wrap applies with PHAROS_FAST_PATHS off too: it changes what Pharos answers, not how fast.

Private names of pynetdicom used here, and why: QueryRetrieveServiceClass._move_scp, the method
wrapped. UPSTREAM_SHA256 holds the hash of its source as read from pynetdicom 3.0.4.
"""

import logging
from dataclasses import dataclass

from pynetdicom.dimse_primitives import C_MOVE
from pynetdicom.dsutils import decode
from pynetdicom.service_class import QueryRetrieveServiceClass

PRIVATE_NAMES = ("_move_scp",)

UPSTREAM_SHA256 = {
    "pynetdicom.service_class.QueryRetrieveServiceClass._move_scp": (
        "5c14d1be3d737befcc148893bcd529a03695e82f8f943f19b640ff4f32382742"
    ),
}

ERROR_COMMENT_LENGTH = 64  # LO
UNABLE_TO_PROCESS = 0xC000

logger = logging.getLogger("dicomnet")


@dataclass(frozen=True)
class MoveAnswer:
    """The final C-MOVE response to send instead of running pynetdicom's service."""

    status: int
    comment: str = ""
    completed: int = 0


def identifier_of(request, context):
    """The request's identifier as a Dataset (pynetdicom's public decoder); raises on bad bytes."""
    syntax = context.transfer_syntax[0]
    return decode(request.Identifier, syntax.is_implicit_VR, syntax.is_little_endian, syntax.is_deflated)


def install(check):
    """Wrap pynetdicom's C-MOVE service so that `check(assoc, request, context)` sees each
    request first: None lets pynetdicom serve it, a MoveAnswer is sent as the final response.
    Installing again replaces the check."""
    upstream = getattr(QueryRetrieveServiceClass._move_scp, "upstream", QueryRetrieveServiceClass._move_scp)

    def _move_scp(self, req, context):
        try:
            answer = check(self.assoc, req, context)
        except Exception:  # a fault of ours: answered, logged, and the association goes on
            logger.exception("C-MOVE: the request could not be examined")
            answer = MoveAnswer(UNABLE_TO_PROCESS, "The request could not be examined")
        if answer is None:
            return upstream(self, req, context)
        rsp = C_MOVE()
        rsp.MessageID = req.MessageID
        rsp.MessageIDBeingRespondedTo = req.MessageID
        rsp.AffectedSOPClassUID = req.AffectedSOPClassUID
        rsp.Status = answer.status
        if answer.comment and answer.status != 0x0000:
            rsp.ErrorComment = answer.comment[:ERROR_COMMENT_LENGTH]
        if answer.status == 0x0000:
            rsp.NumberOfCompletedSuboperations = answer.completed
            rsp.NumberOfFailedSuboperations = 0
            rsp.NumberOfWarningSuboperations = 0
        self.dimse.send_msg(rsp, context.context_id)

    _move_scp.upstream = upstream
    QueryRetrieveServiceClass._move_scp = _move_scp
