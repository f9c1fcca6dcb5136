from __future__ import annotations

import asyncio
import re
from collections import Counter

import httpx
import pytest

from tests.clocks import ManualClock
from tests.cluster import flush, nodes, redis_module
from tests.live import LiveApp, running_app
from tests.redisserver import RedisServer
from tests.test_access import PASSWORD
from webapp.access.devices import DEVICE_COOKIE, DeviceCookies
from webapp.access.throttle import SignInThrottle, address_key
from webapp.access.users import Role
from webapp.simulator import Simulator

__all__ = ["redis_module"]  # the module's redis-server fixture
SECRET = "test-device-secret-0123456789abcdef-xyz"

Clock = ManualClock[float]


@pytest.fixture
def clock() -> Clock:
    return ManualClock(1000.0)


def test_a_user_is_held_after_five_failures_until_the_oldest_leaves_the_window(
    clock: Clock,
) -> None:
    throttle = SignInThrottle(clock=clock)
    for address in ("10.0.0.1", "10.0.0.2", "10.0.0.3", "10.0.0.4"):
        throttle.record_failure("alice", address)
        clock.now += 10
    assert throttle.check("alice", "10.0.0.9") is None
    throttle.record_failure("alice", "10.0.0.5")
    assert throttle.check("alice", "10.0.0.9") == 900 - 40
    assert throttle.check("ALICE", "10.0.0.9") is not None  # names are case-folded
    assert throttle.check("bob", "10.0.0.9") is None
    clock.now = 1000.0 + 900
    assert throttle.check("alice", "10.0.0.9") is None


def test_an_address_is_held_after_twenty_failures_over_any_names(clock: Clock) -> None:
    throttle = SignInThrottle(clock=clock)
    for n in range(19):
        throttle.record_failure(f"user{n}", "192.0.2.7")
    assert throttle.check("someone", "192.0.2.7") is None
    throttle.record_failure("user19", "192.0.2.7")
    assert throttle.check("someone", "192.0.2.7") == 900
    assert throttle.check("someone", "192.0.2.8") is None


def test_the_longer_of_the_two_waits_is_returned(clock: Clock) -> None:
    throttle = SignInThrottle(per_user=2, per_address=1, window=60, clock=clock)
    throttle.record_failure("alice", "192.0.2.1")
    throttle.record_failure("alice", "192.0.2.1")
    clock.now += 30
    throttle.record_failure("bob", "192.0.2.2")
    assert throttle.check("alice", "192.0.2.3") == 30
    assert throttle.check("alice", "192.0.2.2") == 60


def test_success_resets_the_user_but_not_the_address(clock: Clock) -> None:
    throttle = SignInThrottle(per_user=2, per_address=3, clock=clock)
    for _ in range(2):
        throttle.record_failure("alice", "192.0.2.1")
    assert throttle.check("alice", "192.0.2.9") is not None
    throttle.reset("Alice")
    assert throttle.check("alice", "192.0.2.9") is None
    throttle.record_failure("mallory", "192.0.2.1")
    assert throttle.check("anyone", "192.0.2.1") is not None


def test_a_wait_is_at_least_one_whole_second(clock: Clock) -> None:
    throttle = SignInThrottle(per_user=1, window=10, clock=clock)
    throttle.record_failure("alice", "192.0.2.1")
    clock.now += 9.9
    assert throttle.check("alice", "192.0.2.1") == 1


def test_memory_stays_bounded_under_a_flood_of_names_and_addresses(clock: Clock) -> None:
    throttle = SignInThrottle(max_keys=100, clock=clock)
    for n in range(10_000):
        throttle.record_failure(f"user{n}", f"10.{n // 65536}.{n // 256 % 256}.{n % 256}")
    assert len(throttle.users.failures) == 100
    assert len(throttle.addresses.failures) == 100
    assert "user9999" in throttle.users.failures  # the newest are kept
    for _ in range(50):
        throttle.record_failure("alice", "10.0.0.1")
    assert len(throttle.users.failures["alice"]) == 10  # bounded too: twice the limit of 5


def test_old_failures_are_forgotten(clock: Clock) -> None:
    throttle = SignInThrottle(clock=clock)
    throttle.record_failure("alice", "192.0.2.1")
    clock.now += 901
    assert throttle.check("alice", "192.0.2.1") is None
    assert "alice" not in throttle.users.failures


def test_ipv6_addresses_are_throttled_by_their_64_network() -> None:
    assert address_key("2001:db8:1:2:aaaa::1") == address_key("2001:db8:1:2:bbbb::2")
    assert address_key("2001:db8:1:2::1") != address_key("2001:db8:1:3::1")
    assert address_key("::ffff:192.0.2.1") == "192.0.2.1"
    assert address_key(" 192.0.2.1 ") == "192.0.2.1"
    assert address_key("unix-socket") == "unix-socket"


def test_limits_must_be_positive() -> None:
    with pytest.raises(ValueError):
        SignInThrottle(per_user=0)


# -- device cookies: a browser that signed in before is not locked out with strangers ------


def test_a_device_passes_a_locked_address_but_not_the_users_limit_nor_its_own(
    clock: Clock,
) -> None:
    throttle = SignInThrottle(clock=clock)
    for n in range(20):
        throttle.record_failure(f"user{n}", "192.0.2.7")
    assert throttle.check("alice", "192.0.2.7") == 900  # the address is locked
    assert throttle.check("alice", "192.0.2.7", device="d1") is None  # not for alice's device
    for _ in range(5):
        wait, _ticket = throttle.attempt("alice", "192.0.2.7", device="d1")
        assert wait is None
    assert throttle.check("alice", "192.0.2.7", device="d1") is not None  # guesses are held
    _wait, ticket = throttle.attempt("carol", "192.0.2.8")
    throttle.succeeded("carol", "192.0.2.8", ticket)
    throttle.reset("alice")  # alice signed in elsewhere: her name's count is cleared ...
    assert throttle.check("alice", "192.0.2.9", device="d1") is not None  # ... not the device's
    assert throttle.check("alice", "192.0.2.9", device="d2") is None


def test_a_device_cookie_counts_only_for_its_user_instance_and_lifetime() -> None:
    clock = ManualClock(1000.0)
    devices = DeviceCookies(SECRET, "live", max_age=3600, clock=clock)
    cookie = devices.issue("Alice")
    assert devices.device_of(cookie, "alice") is not None
    assert devices.device_of(cookie, "ALICE") == devices.device_of(cookie, "alice")
    assert devices.device_of(cookie, "bob") is None  # bound to its user
    assert devices.device_of(cookie[:-2] + "xx", "alice") is None  # signed
    assert (
        devices.device_of(DeviceCookies("another secret" * 4, "live", 3600).issue("alice"), "alice")
        is None
    )
    assert DeviceCookies(SECRET, "demo", 3600, clock).device_of(cookie, "alice") is None
    assert devices.device_of(devices.issue("alice"), "alice") != devices.device_of(cookie, "alice")
    for forged in ("", "x", "a.b", "{}", "e30.x" * 300):
        assert devices.device_of(forged, "alice") is None
    clock.now += 3600
    assert devices.device_of(cookie, "alice") is None  # expired


async def sign_in_as(
    live: LiveApp, client: httpx.AsyncClient, name: str, password: str
) -> httpx.Response:
    form = await client.get(f"{live.url}/signin")
    csrf = re.search(r'name="csrf" value="([^"]+)"', form.text)
    assert csrf
    data = {"name": name, "password": password, "csrf": csrf[1], "next": "/"}
    return await client.post(f"{live.url}/signin", data=data)


def browser(device: str | None = None) -> httpx.AsyncClient:
    """A new browser (its own cookie jar), holding ``device`` as its device cookie."""
    client = httpx.AsyncClient(timeout=120)
    if device is not None:
        client.cookies.set(DEVICE_COOKIE, device, path="/signin")
    return client


async def spray(live: LiveApp, count: int, device: str | None = None) -> Counter[int]:
    """``count`` guesses sent at once from this address, each from a browser of its own."""

    async def guess(n: int) -> int:
        async with browser(device) as client:
            name = "ada" if device else f"someone{n}"
            return (await sign_in_as(live, client, name, f"guess {n}")).status_code

    return Counter(await asyncio.gather(*(guess(n) for n in range(count))))


async def test_under_a_guessing_flood_only_a_browser_that_signed_in_before_gets_in(
    sim: Simulator,
) -> None:
    roomy = {"dashboard_signin_queue": 300}  # the throttle, not the queue, must answer
    async with running_app(sim, **roomy) as live:
        await live.state.access.users.add("ada", PASSWORD, Role.SUPERVISOR)
        await live.state.access.users.add("bob", PASSWORD, Role.SUPERVISOR)
        async with browser() as before:
            assert (await sign_in_as(live, before, "ada", PASSWORD)).status_code == 303
            device = before.cookies.get(DEVICE_COOKIE)
        assert device, "a password sign-in gives the browser a device cookie"
        assert await spray(live, 60) == Counter({401: 20, 429: 40})  # the address is locked
        hammering = asyncio.ensure_future(spray(live, 60))  # and the attacker keeps at it
        async with browser(device) as ada, browser() as ada_elsewhere, browser() as bob:
            answers = await asyncio.gather(
                sign_in_as(live, ada, "ada", PASSWORD),
                sign_in_as(live, ada_elsewhere, "ada", PASSWORD),
                sign_in_as(live, bob, "bob", PASSWORD),
            )
        assert [a.status_code for a in answers] == [303, 429, 429]
        assert answers[0].headers["location"] == "/"
        assert await hammering == Counter({429: 60})  # no guess of the attacker was checked
        stolen = await spray(live, 30, device=device)  # ada's old cookie, guessing her password
        assert stolen[401] <= 5 and stolen[429] >= 25 and set(stolen) <= {401, 429}, stolen


async def test_a_device_cookie_passes_a_lock_counted_on_other_nodes(
    sim: Simulator, redis_module: RedisServer
) -> None:
    flush(redis_module)
    async with nodes(sim, redis_module, 2, dashboard_signin_queue=100) as (a, b):
        await a.state.access.users.add("ada", PASSWORD, Role.SUPERVISOR)
        async with browser() as before:
            assert (await sign_in_as(a, before, "ada", PASSWORD)).status_code == 303
            device = before.cookies.get(DEVICE_COOKIE)
        assert device
        assert await spray(a, 20) == Counter({401: 20})  # node a counts twenty
        async with browser() as stranger:
            locked = await sign_in_as(b, stranger, "ada", PASSWORD)
        assert locked.status_code == 429  # node b saw none of them, Redis did
        async with browser(device) as ada:
            assert (await sign_in_as(b, ada, "ada", PASSWORD)).status_code == 303
        stolen = await spray(b, 10, device=device)
        assert stolen[401] <= 5 and stolen[429] >= 5 and set(stolen) <= {401, 429}, stolen


def test_a_device_sign_in_past_a_locked_address_leaves_the_address_locked(clock: Clock) -> None:
    throttle = SignInThrottle(per_address=3, clock=clock)
    for n in range(3):
        throttle.record_failure(f"user{n}", "192.0.2.7")
        clock.now += 1
    assert throttle.check("someone", "192.0.2.7") is not None
    wait, ticket = throttle.attempt("ada", "192.0.2.7", device="ada-laptop")
    assert wait is None  # the device cookie passes the address's lock
    throttle.succeeded("ada", "192.0.2.7", ticket, device="ada-laptop")
    assert throttle.check("someone", "192.0.2.7") == 900 - 3  # still locked, as long as before
