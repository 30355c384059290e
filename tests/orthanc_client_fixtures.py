"""A running Pharos (`manage.py start` on a database of its own) and Orthanc's two Python clients
logged in to it as the administrator, for a test module: `server, api_client, orthanc =
clients_of_a_server("name", PASSWORD)` at the module's top level."""

import orthanc_api_client as oac
import pyorthanc
import pytest

from tests.pharos_server import Server, own_database


def clients_of_a_server(name, password):
    @pytest.fixture(scope="module")
    def server(tmp_path_factory):
        with own_database(f"pharos_{name}") as database_url:
            server = Server(tmp_path_factory.mktemp(name) / "data", password, database_url)
            yield server
            assert server.stop() == 0

    @pytest.fixture(scope="module")
    def api_client(server):
        """orthanc-api-client's client, with the administrator's credentials."""
        client = oac.OrthancApiClient(f"http://127.0.0.1:{server.port}", user="admin", pwd=password)
        yield client
        client.close()

    @pytest.fixture(scope="module")
    def orthanc(server):
        """pyorthanc's client, with the administrator's credentials."""
        with pyorthanc.Orthanc(f"http://127.0.0.1:{server.port}", "admin", password, timeout=60) as client:
            yield client

    return server, api_client, orthanc
