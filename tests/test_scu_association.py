"""Opening associations, and C-ECHO, against real peers: our own SCP, a pynetdicom storage
SCP, and ports nobody listens on."""

import pytest

from dicomnet import scu
from dicomnet.models import Modality
from dicomnet.scu import association
from explorer.ingest import Origin, store_instance
from explorer.models import Instance
from tests.conftest import dicom_bytes
from tests.dicom_peers import free_port, modality, port_of


def test_echo_to_our_scp(dicom_server):
    scu.echo(modality("PHAROS", port_of(dicom_server)))


@pytest.mark.django_db
def test_echo_to_a_closed_port_names_the_modality():
    port = free_port()
    with pytest.raises(scu.NetworkError) as raised:
        scu.echo(modality("NOPE", port))
    message = str(raised.value)
    assert message.startswith('DicomAssociation - connecting to AET "NOPE": ')
    assert "TCP Initialization Error: Connection refused" in message
    assert f"host: 127.0.0.1, port: {port}" in message


@pytest.mark.django_db
def test_echo_to_an_unknown_host():
    with pytest.raises(scu.NetworkError, match="no.such.host.invalid"):
        scu.echo(Modality.objects.create(name="nowhere", aet="NOPE", host="no.such.host.invalid", port=104))


@pytest.mark.django_db
def test_echo_rejected_for_a_wrong_called_aet(collector):
    with pytest.raises(scu.AssociationRejected) as raised:
        scu.echo(modality("WRONG", collector.port))
    assert not raised.value.transient
    message = str(raised.value)
    assert message.startswith('DicomAssociation - connecting to AET "WRONG": Association Rejected: Rejected Permanent')


@pytest.mark.django_db
def test_store_retries_opening_the_association(settings, monkeypatch):
    settings.PHAROS_DICOM_STORE_RETRIES = 2
    monkeypatch.setattr(association, "RETRY_DELAY_SECONDS", 0)
    attempts = []
    open_once = association.Session._open_once

    def counted(session):
        attempts.append(1)
        return open_once(session)

    monkeypatch.setattr(association.Session, "_open_once", counted)
    store_instance(dicom_bytes("CT_small.dcm"), Origin(kind="RestApi"))
    with pytest.raises(scu.NetworkError, match="Connection refused"):
        scu.store(modality("NOPE", free_port()), Instance.objects.all())
    assert len(attempts) == 3
