"""The `xuc` command: run the whole system, provision it, administer its users, drive the PBX simulator.

Every option that mirrors an environment variable sets that variable before anything reads it,
so that the launched processes see the same configuration as the command itself.
"""

from __future__ import annotations

import argparse
import asyncio
import getpass
import os
import sys
from collections.abc import Sequence
from pathlib import Path

import grpc

from xuc import cti_commands, keys_commands, launcher, nats_commands, pbx_commands, provisioning
from xuc.launcher import CliError
from xuc.runtime.grpc_errors import reason_of
from xuc.runtime.settings import Settings, SettingsError
from xucproto.auth.v1 import auth_pb2

# (option, environment variable, value type, help) of `xuc up`.
UP_OPTIONS: tuple[tuple[str, str, type[int] | type[str], str], ...] = (
    ("--http-port", "XUC_HTTP_PORT", int, "HTTP port of the gateway (default 8090)"),
    ("--nats-url", "XUC_NATS_URL", str, "use this NATS server (JetStream enabled) instead of starting one"),
    ("--database-url", "XUC_DATABASE_URL", str,
     "sqlite:///PATH or postgresql://USER@HOST/DB shared by the services "
     "(default: one SQLite file per service in the data directory)"),
    ("--token-ttl", "XUC_TOKEN_TTL", int, "lifetime of user tokens in seconds (default 3600)"),
    ("--event-url", "XUC_EVENT_URL", str, "URL phone events are posted to"),
    ("--pbx", "XUC_PBX", str, "the PBX: 'sim' (built-in simulator, the default) or ami://USER:SECRET@HOST:5038"),
    ("--deprecated-api-host", "DEPRECATED_API_HOST", str,
     "comma-separated hosts allowed to call the deprecated API"),
    ("--replicas", "XUC_REPLICAS", str,
     "processes of the gateway, auth and contacts: N for each, or e.g. gateway=2,auth=2,contacts=3 "
     "(default 1; replicas that exit are restarted)"),
)
DATA_DIR_HELP = "data directory: databases, keys, service token, run files (default ./.xuc)"
USER_COLUMNS = ("login", "firstname", "lastname", "line", "mobile")
# Actions on one existing user: (help, what the command says it did).
USER_STATE_ACTIONS = {
    "disable": ("disable a user: no more logins, and every token they hold is refused at once", "disabled"),
    "enable": ("let a disabled user log in again (the tokens refused stay refused)", "enabled"),
    "delete": ("delete a user: every token they hold is refused at once", "deleted"),
}


def _env_option(parser: argparse.ArgumentParser, option: str, variable: str, help_text: str,
                kind: type[int] | type[str] = str) -> None:
    # dest is the variable's name: _export finds these options by their upper-case dest.
    parser.add_argument(option, metavar=variable.removeprefix("XUC_"), dest=variable, type=kind,
                        help=f"{help_text} [{variable}]")


def _build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="xuc",
        description="The xuc CTI server: run it, provision it, administer its users.",
        epilog="Run `xuc COMMAND --help` for a command's options.",
    )
    common = argparse.ArgumentParser(add_help=False)
    _env_option(common, "--data-dir", "XUC_DATA_DIR", DATA_DIR_HELP)
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    up = commands.add_parser(
        "up", parents=[common], help="start the whole system and supervise it",
        description="Start NATS (unless --nats-url), the auth, contacts and telephony services and the "
                    "HTTP gateway, each in its own process (the gateway, auth and contacts as --replicas "
                    "processes); stop everything on Ctrl-C, or if a single-process component exits or a "
                    "replica cannot start again.",
    )
    for option, variable, kind, help_text in UP_OPTIONS:
        _env_option(up, option, variable, help_text, kind)

    apply = commands.add_parser(
        "provision", parents=[common], help="apply a YAML/JSON provisioning file to the running system",
        description="Check FILE whole (nothing is applied if any entry is wrong), then make the running "
                    "system match it. Idempotent: applying the same file again changes nothing.",
    )
    apply.add_argument("file", type=Path, metavar="FILE", help="YAML or JSON file with users, agents, queues, "
                       "qualifications")

    _add_user_commands(commands, common)
    pbx_commands.add_parser(commands, common)
    keys_commands.add_parser(commands, common)
    cti_commands.add_parser(commands, common)
    nats_commands.add_parsers(commands, common)
    return parser


def _add_user_commands(commands: argparse._SubParsersAction[argparse.ArgumentParser],
                       common: argparse.ArgumentParser) -> None:
    user = commands.add_parser("user", help="administer users of the running system",
                               description="Administer users of the running system.")
    actions = user.add_subparsers(dest="action", required=True, metavar="ACTION")
    add = actions.add_parser("add", parents=[common], help="create a user",
                             description="Create a user (the password is asked for if not given).")
    add.add_argument("login")
    add.add_argument("--password", help="the password (prompted for if omitted, which keeps it out of `ps`)")
    for field in ("firstname", "lastname"):
        add.add_argument(f"--{field}", default="")
    add.add_argument("--line", default="", help="phone line number, e.g. 1001")
    add.add_argument("--mobile", default="", help="mobile phone number")
    actions.add_parser("list", parents=[common], help="list users", description="List users, by login.")
    for action, (help_text, _) in USER_STATE_ACTIONS.items():
        actions.add_parser(action, parents=[common], help=help_text,
                           description=help_text[0].upper() + help_text[1:] + ".").add_argument("login")


def _export(args: argparse.Namespace) -> None:
    """Options that mirror environment variables override them, for us and our children."""
    for name, value in vars(args).items():
        if name.isupper() and value is not None:
            os.environ[name] = str(value)


# --- commands -------------------------------------------------------------------------------------
def _up(args: argparse.Namespace) -> int:
    return asyncio.run(launcher.up())


def _provision(args: argparse.Namespace) -> int:
    try:
        asyncio.run(provisioning.provision(args.file, Settings.from_env()))
    except provisioning.InvalidFile as error:
        for problem in error.problems:
            print(problem.render(str(args.file)), file=sys.stderr)
        print(f"xuc: {args.file}: {len(error.problems)} problem(s), nothing applied", file=sys.stderr)
        return 2
    return 0


def _ask_password(login: str) -> str:
    password = getpass.getpass(f"password for {login}: ")
    # A typo typed blind would lock the user out; a script piping the password gives it once.
    if sys.stdin.isatty() and password != getpass.getpass("again: "):
        raise CliError("the passwords differ")
    return password


async def _user_add(args: argparse.Namespace, password: str) -> None:
    request = auth_pb2.CreateUserRequest(
        login=args.login, password=password,
        firstname=args.firstname, lastname=args.lastname, line=args.line, mobile=args.mobile,
    )
    async with provisioning.connect(Settings.from_env()) as system:
        user = await system.auth.CreateUser(request, metadata=system.metadata, timeout=provisioning.CALL_SECONDS)
    print(f"user {user.login}: created")


async def _user_list() -> None:
    async with provisioning.connect(Settings.from_env()) as system:
        reply = await system.auth.ListUsers(auth_pb2.ListUsersRequest(), metadata=system.metadata,
                                            timeout=provisioning.CALL_SECONDS)
    rows = [(*USER_COLUMNS, "state"),
            *((*(getattr(user, column) for column in USER_COLUMNS), "disabled" if user.disabled else "")
              for user in reply.users)]
    print(keys_commands.table(rows))


async def _user_state(action: str, login: str) -> None:
    async with provisioning.connect(Settings.from_env()) as system:
        if action == "delete":
            await system.auth.DeleteUser(auth_pb2.DeleteUserRequest(login=login), metadata=system.metadata,
                                         timeout=provisioning.CALL_SECONDS)
        else:
            request = auth_pb2.UpdateUserRequest(login=login, disabled=action == "disable")
            await system.auth.UpdateUser(request, metadata=system.metadata, timeout=provisioning.CALL_SECONDS)
    print(f"user {login}: {USER_STATE_ACTIONS[action][1]}")


def _user(args: argparse.Namespace) -> int:
    if args.action == "add":
        password = args.password if args.password is not None else _ask_password(args.login)
        asyncio.run(_user_add(args, password))
    elif args.action == "list":
        asyncio.run(_user_list())
    else:
        asyncio.run(_user_state(args.action, args.login))
    return 0


def _pbx(args: argparse.Namespace) -> int:
    asyncio.run(pbx_commands.run(args))
    return 0


COMMANDS = {"up": _up, "provision": _provision, "user": _user, "pbx": _pbx, "keys": keys_commands.run,
            "cti": cti_commands.run,
            "nats-config": nats_commands.print_config, "nats-url": nats_commands.print_url}


def main(argv: Sequence[str] | None = None) -> int:
    """The `xuc` command line; returns the exit status (0 ok, 1 failure, 2 bad input)."""
    args = _build_parser().parse_args(argv)
    _export(args)
    try:
        return COMMANDS[args.command](args)
    except SettingsError as error:
        print(f"xuc: {error}", file=sys.stderr)
        return 2
    except CliError as error:
        print(f"xuc: {error}", file=sys.stderr)
        return 1
    except grpc.aio.AioRpcError as error:
        print(f"xuc: {reason_of(error) or error.code().name}: {error.details()}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130
