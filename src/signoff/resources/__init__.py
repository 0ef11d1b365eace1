"""The API's resources, one module each; reached through the client (``client.approvals``)."""
