"""The codec's single error type: every decoding or encoding failure raises it."""


class ProtocolError(ValueError):
    """Bytes that are not a valid Handle protocol message or value.

    ``response_code`` is the Handle response code a server should answer with
    (RC_PROTOCOL_ERROR, 4, unless a more precise one applies).
    """

    def __init__(self, message: str, response_code: int = 4) -> None:
        super().__init__(message)
        self.response_code = response_code
