"""Turn one decoded Handle request into its response messages, via the service.

Transport-independent: the TCP and UDP servers decode a request, hand it to
:meth:`RequestProcessor.process` and send back what it returns.  Requests that
need an identity are challenged first (nonce + digest of the request, as
``HandleServer.createChallenge``); the answer (``OC_RESPONSE_TO_CHALLENGE``)
names the challenge by its session id, is checked against the HS_SECKEY or
HS_PUBKEY of the claimed identity, and only then is the original request run
with that identity.  Each challenge is answerable once, within its lifetime.
"""

from __future__ import annotations

import dataclasses
import hmac
import logging

from protocol.auth import make_challenge
from protocol.bodies import (
    ChallengeAnswerRequest,
    ChallengeResponse,
    CreateHandleResponse,
    EmptyBody,
    GetSiteInfoResponse,
    HandleListResponse,
    HandleRequest,
    ReferralResponse,
    RemoveValueRequest,
    ResolutionRequest,
    ResolutionResponse,
    SessionSetupRequest,
    SessionSetupResponse,
    ValuesRequest,
    VerifyAuthRequest,
    VerifyAuthResponse,
    error_body,
)
from protocol.constants import (
    AUTH_TYPE_PUBLIC_KEY,
    AUTH_TYPE_SECRET_KEY,
    KEY_EXCHANGE_DH,
    NA_HANDLE_PREFIX,
    OC_ADD_VALUE,
    OC_CREATE_HANDLE,
    OC_DELETE_HANDLE,
    OC_GET_SITE_INFO,
    OC_HOME_NA,
    OC_LIST_HANDLES,
    OC_LIST_HOMED_NAS,
    OC_MODIFY_VALUE,
    OC_REMOVE_VALUE,
    OC_RESOLUTION,
    OC_RESPONSE_TO_CHALLENGE,
    OC_SESSION_SETUP,
    OC_SESSION_TERMINATE,
    OC_UNHOME_NA,
    OC_VERIFY_CHALLENGE,
    RC_AUTHEN_TIMEOUT,
    RC_AUTHENTICATION_FAILED,
    RC_ERROR,
    RC_INVALID_CREDENTIAL,
    RC_INVALID_SESSION_KEY,
    RC_OPERATION_NOT_SUPPORTED,
    RC_SERVICE_REFERRAL,
    RC_SESSION_FAILED,
    RC_SESSION_MESSAGE_REJECTED,
    RC_SESSION_TIMEOUT,
    RC_SUCCESS,
)
from protocol.credential import mac_counter, sign_message, sign_message_mac
from protocol.envelope import Envelope
from protocol.errors import ProtocolError
from protocol.framing import decode_packet, encode_tcp
from protocol.key_types import HandlePrivateKey
from protocol.message import Message, decode_message, make_response
from protocol.session_cipher import decrypt
from protocol.site_info import decode_site_info
from protocol.versions import at_least, negotiate
from resolver.core.auth_sessions import (
    HANDLE,
    Challenge,
    Challenges,
    CounterGuard,
    MemoryAuthState,
    Session,
    SessionRefused,
    Sessions,
    auth_bounds,
)
from resolver.core.crypto_pool import CryptoBusy
from resolver.core.homing import home_prefix, homed_prefixes, unhome_prefix
from resolver.core.limits import DEFAULT_LIMITS, Limits
from resolver.core.metrics import Metrics
from resolver.core.model import Caller, Resolution, ServiceError
from resolver.core.service import CredentialChanged, ResolutionService
from resolver.handle.key_exchange import dh_session_key

log = logging.getLogger(__name__)

ADMIN_OPS = frozenset(
    {
        OC_CREATE_HANDLE,
        OC_DELETE_HANDLE,
        OC_ADD_VALUE,
        OC_REMOVE_VALUE,
        OC_MODIFY_VALUE,
        OC_LIST_HANDLES,
        OC_HOME_NA,
        OC_UNHOME_NA,
        OC_LIST_HOMED_NAS,
    }
)

#: requests that carry a session id without being inside that session
_SESSIONLESS_OPS = frozenset({OC_RESPONSE_TO_CHALLENGE, OC_SESSION_SETUP})


def _guardable(request: Message) -> bool:
    """A create whose session counter can ride in its write (:meth:`Sessions.guard`)."""
    return (request.op_code == OC_CREATE_HANDLE and not request.overwrite_when_exists
            and not request.mint_new_suffix)


def error_response(request: Message, code: int, text: str = "") -> Message:
    """An error response to ``request``."""
    return make_response(request, code, error_body(text))


class RequestProcessor:
    """Answers decoded requests for one server process.

    ``private_key`` (the key whose public half the node's HS_SITE lists) signs
    the responses to certified requests, as CNRI's ``sendResponse`` does;
    ``challenges`` and ``sessions`` is where open challenges and Handle sessions
    are kept (this process by default); ``metrics`` counts the answers under
    the front end ``handle``.
    """

    def __init__(
        self,
        service: ResolutionService,
        *,
        limits: Limits = DEFAULT_LIMITS,
        private_key: HandlePrivateKey | None = None,
        challenges: Challenges | None = None,
        sessions: Sessions | None = None,
        metrics: Metrics | None = None,
    ) -> None:
        self.service = service
        self.metrics = metrics
        self.limits = limits
        self.private_key = private_key
        if challenges is None or sessions is None:
            state = MemoryAuthState(
                auth_bounds(limits.max_pending_challenges, limits.max_sessions))
            challenges = challenges or Challenges(state, limits.challenge_lifetime)
            sessions = sessions or Sessions(state, HANDLE, lifetime=limits.session_lifetime)
        self.challenges = challenges
        self.sessions = sessions

    async def decode(self, env: Envelope, data: bytes) -> Message:
        """The request ``env`` + ``data`` holds, decrypted first with its session's key when
        the envelope says it is encrypted (:mod:`protocol.session_cipher`)."""
        if env.encrypted and not env.compressed:
            session = await self.sessions.get(str(env.session_id)) if env.session_id > 0 else None
            if session is None:
                raise ProtocolError("encrypted message outside a session", RC_SESSION_FAILED)
            data = decrypt(session.secret, data[:env.message_length])
            env = dataclasses.replace(env, encrypted=False, message_length=len(data))
        return decode_message(env, data, self.limits.max_message_size)

    async def process(self, request: Message, *, spoofable: bool = False) -> list[Message]:
        """The responses to ``request`` (several only for a long handle list);
        ``spoofable`` when it came from an address nothing proved (UDP)."""
        try:
            if request.session_id > 0 and request.op_code not in _SESSIONLESS_OPS:
                responses = await self._in_session(request, spoofable)
            else:
                responses = await self._dispatch(request, None, spoofable)
        except ServiceError as exc:
            responses = [error_response(request, exc.response_code, exc.message)]
        except ProtocolError as exc:
            responses = [error_response(request, exc.response_code, str(exc))]
        for response in responses:
            if response.certify and response.signature is None:  # not signed already
                await self._certify(response)
        return responses

    async def _certify(self, response: Message) -> None:
        """Sign with the session key inside a session, else with the server's key."""
        if response.session_id > 0 and response.op_code != OC_SESSION_SETUP:
            session = await self.sessions.get(str(response.session_id))
            if session is not None:
                counter = await self.sessions.next_counter(session.session_id)
                sign_message_mac(response, session.secret, counter)
                return
        if self.private_key is not None:
            sign_message(response, self.private_key)

    async def _in_session(self, request: Message, spoofable: bool) -> list[Message]:
        """A request inside a session: check its MAC and counter, act as the session's
        identity once it is authenticated (``HandleServer.verifyIdentityAndGetIndex``)."""
        session_id = str(request.session_id)
        if request.signature:
            # the session's key as this process knows it, else as the registry has it
            secret = self.sessions.known_secret(session_id)
            counter = None if secret is None else mac_counter(request, secret)
            if secret is None or counter is None:
                found = await self.sessions.get(session_id)
                if found is None:
                    return [error_response(request, RC_SESSION_TIMEOUT,
                                           "invalid session or timed out")]
                secret = found.secret
                counter = mac_counter(request, secret)
                if counter is None:
                    return [error_response(request, RC_INVALID_SESSION_KEY, "bad session MAC")]
            known = self.sessions.known(session_id)
            if (known is not None and known.caller.authenticated and _guardable(request)
                    and hmac.compare_digest(known.secret, secret)):
                answered = await self._guarded_write(request, known, counter, spoofable)
                if answered is not None:
                    return answered
            # the counter's change reads the session: one trip, gone means gone at once
            used = await self.sessions.use(session_id, counter, secret)
            if used is None:
                return [error_response(request, RC_SESSION_TIMEOUT, "invalid session or timed out")]
            accepted, session = used
            if not accepted:
                return [error_response(request, RC_SESSION_MESSAGE_REJECTED, "replayed")]
        else:
            unsigned = await self.sessions.get(session_id)
            if unsigned is None:
                return [error_response(request, RC_SESSION_TIMEOUT,
                                       "invalid session or timed out")]
            session = unsigned
            if session.caller.authenticated:
                return [error_response(request, RC_INVALID_CREDENTIAL,
                                       "session request missing MAC")]
        caller = session.caller if session.caller.authenticated else None
        if caller is not None and not await self.service.session_still_valid(
            caller, session.credential
        ):
            await self.sessions.close(session.session_id)
            return [error_response(request, RC_SESSION_TIMEOUT,
                                   "the session's credential changed: open a new session")]
        return await self._dispatch(request, caller, spoofable)

    async def _guarded_write(
        self, request: Message, known: Session, counter: int, spoofable: bool
    ) -> list[Message] | None:
        """A create in a session this process knows as authenticated: its counter is
        recorded in the create's own transaction (:meth:`Sessions.guard`), so a create
        commits once.  The session is read there, under the write's lock: gone, replayed
        or changed since this process read it refuses the create before it is stored.
        The caller's credential is read with the handle and its prefix handle
        (:meth:`ResolutionService.create_handle`'s ``proven``), not on its own.
        None: the request goes the usual way (the session changed, or its credential
        did: that way ends it)."""
        if known.credential is None:
            return None
        guard = self.sessions.guard(known, counter)
        try:
            responses = await self._dispatch(request, known.caller, spoofable, guard)
        except SessionRefused as exc:
            if exc.changed:
                self.sessions.forget(known.session_id)
                return None
            return [error_response(request, exc.response_code, exc.message)]
        except CredentialChanged:
            # refused before its transaction: the usual way spends the counter, ends it
            self.sessions.forget(known.session_id)
            return None
        except Exception:
            # refused before or rolled back with its write: the counter is spent all the same
            used = await self.sessions.use(known.session_id, counter, known.secret)
            if not guard.accepted:
                if used is None:
                    return [error_response(request, RC_SESSION_TIMEOUT,
                                           "invalid session or timed out")]
                if not used[0]:
                    return [error_response(request, RC_SESSION_MESSAGE_REJECTED, "replayed")]
            raise
        if len(responses) == 1 and responses[0].certify and guard.sent:
            # the response's counter was taken in the create's transaction, with the
            # request's: no transaction of its own to sign it (:meth:`_certify`)
            sign_message_mac(responses[0], known.secret, guard.sent)
        return responses

    async def _dispatch(
        self, request: Message, caller: Caller | None, spoofable: bool = False,
        guard: CounterGuard | None = None,
    ) -> list[Message]:
        op = request.op_code
        if op == OC_RESOLUTION:
            return [await self._resolve(request, caller, spoofable)]
        if op == OC_GET_SITE_INFO:
            return [await self._site_info(request)]
        if op == OC_RESPONSE_TO_CHALLENGE:
            return await self._answer(request, spoofable)
        if op == OC_VERIFY_CHALLENGE:
            return [await self._verify(request, spoofable)]
        if op == OC_SESSION_SETUP:
            return [await self._session_setup(request, spoofable)]
        if op == OC_SESSION_TERMINATE:
            await self.sessions.close(str(request.session_id))
            return [make_response(request, RC_SUCCESS, EmptyBody())]
        if op in ADMIN_OPS:
            if caller is None:
                return [await self._challenge(request, spoofable)]
            return await self._admin(request, caller, guard)
        return [error_response(request, RC_OPERATION_NOT_SUPPORTED, "operation not supported")]

    # --- authentication -----------------------------------------------------------

    async def _challenge(self, request: Message, spoofable: bool) -> Message:
        response = make_challenge(request)
        body, digest = response.body, response.request_digest
        assert isinstance(body, ChallengeResponse) and digest is not None
        opened = await self.challenges.issue(
            body.nonce, digest.alg, digest.digest, encode_tcp(request, as_received=True),
            request.session_id, spoofable,
        )
        response.session_id = opened.session_id
        return response

    async def _answer(self, answer: Message, spoofable: bool) -> list[Message]:
        body = answer.body
        assert isinstance(body, ChallengeAnswerRequest)
        challenge = await self.challenges.take(answer.session_id)
        if challenge is None:
            return [error_response(answer, RC_AUTHEN_TIMEOUT, "no such challenge or it expired")]
        original = decode_packet(challenge.request, self.limits.max_message_size)
        caller = await self._identify(body, challenge, original, spoofable)
        if caller is None:
            log.info(
                "handle auth failed identity=%s:%r type=%r",
                body.user_index,
                body.user_handle,
                body.auth_type,
            )
            return [error_response(answer, RC_AUTHENTICATION_FAILED, "authentication failed")]
        if original.session_id > 0:
            credential = await self.service.credential_version(caller)
            await self.sessions.authenticate(
                str(original.session_id), Caller(body.user_handle, caller.index or 0), credential
            )
        try:
            responses = await self._dispatch(original, caller)
        except ServiceError as exc:
            responses = [error_response(original, exc.response_code, exc.message)]
        return [dataclasses.replace(r, request_id=answer.request_id) for r in responses]

    async def _identify(
        self, body: ChallengeAnswerRequest, challenge: Challenge, original: Message,
        spoofable: bool,
    ) -> Caller | None:
        args = (body.user_handle, body.user_index, challenge.nonce, challenge.request_digest)
        if body.auth_type == AUTH_TYPE_SECRET_KEY:
            # the form is the one of the challenge we sent, whatever version the answer
            # claims: relabelled 2.0, an answer must not get a bare MD5 value accepted
            sent = negotiate(original.suggest_major_version, original.suggest_minor_version)
            ok = await self.service.verify_secret_key_answer(
                *args, body.signed_response, old_format=not at_least(*sent, 2, 1),
                spoofable=spoofable,
            )
            return Caller(body.user_handle, body.user_index) if ok else None
        if body.auth_type == AUTH_TYPE_PUBLIC_KEY:
            index = await self.service.verify_public_key_answer(
                *args, body.signed_response, spoofable=spoofable
            )
            return None if index is None else Caller(body.user_handle, index)
        raise ServiceError(RC_INVALID_CREDENTIAL, "unknown authentication type")

    async def _verify(self, request: Message, spoofable: bool) -> Message:
        body = request.body
        assert isinstance(body, VerifyAuthRequest)
        ok = await self.service.verify_secret_key_answer(
            body.handle,
            body.index,
            body.nonce,
            body.request_digest,
            body.signed_response,
            old_format=not request.at_least(2, 1),
            spoofable=spoofable,
        )
        response = make_response(request, RC_SUCCESS, VerifyAuthResponse(ok))
        response.certify = True
        return response

    async def _session_setup(self, request: Message, spoofable: bool) -> Message:
        body = request.body
        assert isinstance(body, SessionSetupRequest)
        if not at_least(request.suggest_major_version, request.suggest_minor_version, 2, 4):
            return error_response(request, RC_SESSION_FAILED, "sessions need protocol 2.4")
        try:
            key, data = await self.service.crypto.run(
                dh_session_key, body.key_exchange_mode, body.public_key, spoofable=spoofable
            )
        except ProtocolError as exc:
            return error_response(request, RC_SESSION_FAILED, str(exc))
        except CryptoBusy as exc:
            return error_response(request, exc.response_code, str(exc))
        lifetime = min(max(body.timeout, 1), self.limits.session_lifetime)
        session = await self.sessions.open(key, lifetime)
        response = make_response(request, RC_SUCCESS, SessionSetupResponse(KEY_EXCHANGE_DH, data))
        response.session_id = session.number
        return response

    # --- queries -----------------------------------------------------------------

    async def _resolve(self, request: Message, caller: Caller | None, spoofable: bool) -> Message:
        body = request.body
        assert isinstance(body, ResolutionRequest)
        res = await self.service.resolve(
            body.handle,
            types=body.types,
            indexes=body.indexes,
            caller=caller,
            recursive=request.recursive,
            max_age=0.0 if request.authoritative else None,  # AT: not from the cache
        )
        return await self.resolution_answer(request, res, caller, spoofable)

    async def resolution_answer(self, request: Message, res: Resolution,
                                caller: Caller | None = None, spoofable: bool = True) -> Message:
        """The response to resolution ``request`` resolved as ``res`` for ``caller``
        (None: anonymous): a challenge when values were withheld from an anonymous caller
        who did not ask for public values only, else :meth:`resolution_response`."""
        if res.withheld and caller is None and not request.public_only:
            return await self._challenge(request, spoofable)
        return self.resolution_response(request, res)

    def resolve_now(self, request: Message) -> Message | None:
        """The response to an anonymous resolution ``request`` outside any session if it
        can be made without waiting (:meth:`ResolutionService.resolve_now`), else None:
        then :meth:`process` answers it.  The same response :meth:`process` makes."""
        body = request.body
        if (
            request.op_code != OC_RESOLUTION
            or request.session_id != 0
            or request.certify
            or request.authoritative
            or not isinstance(body, ResolutionRequest)
        ):
            return None
        res = self.service.resolve_now(
            body.handle, types=body.types, indexes=body.indexes, recursive=request.recursive,
            withheld_ok=request.public_only,
        )
        return None if res is None else self.resolution_response(request, res)

    @staticmethod
    def resolution_response(request: Message, res: Resolution) -> Message:
        """The response to resolution ``request`` answered with ``res``."""
        if res.response_code == RC_SUCCESS:
            found = ResolutionResponse(res.handle, res.values)
            response = make_response(request, RC_SUCCESS, found)
        elif res.response_code == RC_SERVICE_REFERRAL:
            referral = ReferralResponse("", res.referral_values)
            response = make_response(request, RC_SERVICE_REFERRAL, referral)
        else:
            response = error_response(request, res.response_code)
        response.authoritative = res.authoritative
        return response

    async def _site_info(self, request: Message) -> Message:
        value = await self.service.get_site_info()
        if value is None:
            return error_response(request, RC_ERROR, "this node has no site information")
        return make_response(request, RC_SUCCESS, GetSiteInfoResponse(decode_site_info(value.data)))

    # --- administration ------------------------------------------------------------

    async def _admin(
        self, request: Message, caller: Caller, guard: CounterGuard | None = None
    ) -> list[Message]:
        op, body, service = request.op_code, request.body, self.service
        if op == OC_LIST_HANDLES:
            assert isinstance(body, HandleRequest)
            return await self._list(request, body.handle, caller)
        if op == OC_LIST_HOMED_NAS:
            return self._pages(request, await homed_prefixes(service, caller))
        if op in (OC_HOME_NA, OC_UNHOME_NA):
            assert isinstance(body, HandleRequest)
            act = home_prefix if op == OC_HOME_NA else unhome_prefix
            await act(service, body.handle, caller)
            return [make_response(request, RC_SUCCESS, EmptyBody())]
        if op == OC_DELETE_HANDLE:
            assert isinstance(body, HandleRequest)
            await service.delete_handle(body.handle, caller=caller)
        elif op == OC_REMOVE_VALUE:
            assert isinstance(body, RemoveValueRequest)
            await service.remove_values(body.handle, body.indexes, caller=caller)
        else:
            assert isinstance(body, ValuesRequest)
            if op == OC_CREATE_HANDLE:
                if request.mint_new_suffix:
                    raise ServiceError(RC_OPERATION_NOT_SUPPORTED, "minting is not supported")
                if request.overwrite_when_exists:
                    await service.replace_handle(body.handle, body.values, caller=caller)
                else:
                    await service.create_handle(
                        body.handle, body.values, caller=caller, guard=guard,
                        proven=None if guard is None else guard.session.credential)
                return [make_response(request, RC_SUCCESS, CreateHandleResponse())]
            if op == OC_ADD_VALUE:
                await service.add_values(body.handle, body.values, caller=caller)
            else:
                await service.modify_values(body.handle, body.values, caller=caller)
        return [make_response(request, RC_SUCCESS, EmptyBody())]

    async def _list(self, request: Message, handle: str, caller: Caller) -> list[Message]:
        prefix = handle if "/" in handle else NA_HANDLE_PREFIX + handle
        return self._pages(request, await self.service.all_handles(prefix, caller=caller))

    def _pages(self, request: Message, handles: list[str]) -> list[Message]:
        """``handles`` in list responses of ``list_page_size`` each, all but the last
        marked continuous (one empty response for an empty list)."""
        size = self.limits.list_page_size
        chunks = [handles[i:i + size] for i in range(0, len(handles), size)] or [[]]
        responses = []
        for number, chunk in enumerate(chunks):
            response = make_response(request, RC_SUCCESS, HandleListResponse(tuple(chunk)))
            response.continuous = number < len(chunks) - 1
            responses.append(response)
        return responses
