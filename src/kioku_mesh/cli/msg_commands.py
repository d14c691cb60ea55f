"""`kioku-mesh msg send|inbox|ack|status|who|purge-expired`."""

from __future__ import annotations

import argparse
import sys
from typing import Any

from .render import ago, dump_json, plural


def add_parsers(sub: Any, common: argparse.ArgumentParser, parser_class: type) -> None:
    p = sub.add_parser("msg", help="messages between agents: send, inbox, ack, status, who")
    actions = p.add_subparsers(dest="msg_command", metavar="ACTION", required=True,
                               parser_class=parser_class)
    q = actions.add_parser("send", parents=[common], help="send a message")
    q.add_argument("body", help="message text, or - to read it from stdin")
    to = q.add_mutually_exclusive_group(required=True)
    to.add_argument("--to-session", metavar="SESSION_ID", help="one agent session's inbox")
    to.add_argument("--to-agent", metavar="AGENT_ID",
                    help="an agent's inbox (all its sessions; agent id = its client id)")
    q.add_argument("--scope", default="mesh", help="mesh (default), team or user")
    q.add_argument("--content-type", default="text/plain", help="MIME type of the body")
    q.add_argument("--correlation-id", help="thread or request id that relates replies")
    q.add_argument("--requires-ack", action="store_true", help="ask the recipient to ack")
    q.add_argument("--ttl", type=int, metavar="SECONDS", help="expire after (default 7 days)")
    q = actions.add_parser("inbox", parents=[common], help="messages to this session or agent")
    q.add_argument("--all", action="store_true", help="also those already acked")
    q.add_argument("--scope", help="only mesh, team or user")
    q.add_argument("--since", help="ISO time or age like 2h")
    q.add_argument("-n", "--limit", type=int, default=50, help="show at most N")
    q = actions.add_parser("ack", parents=[common], help="acknowledge (mark read) a message")
    q.add_argument("msg_id", help="message id or 8+ char prefix")
    q = actions.add_parser("status", parents=[common], help="what you sent and who acked it")
    q.add_argument("msg_id", nargs="?", help="one message (id or 8+ char prefix); default all")
    q.add_argument("-n", "--limit", type=int, default=20, help="show at most N")
    actions.add_parser("who", parents=[common], help="agent sessions online on this host")
    actions.add_parser("purge-expired", parents=[common], help="drop expired messages now")


def _view(stored: Any) -> dict[str, Any]:
    msg = stored.message
    return {**msg.to_wire(), "acks": [a.to_wire() for a in stored.acks], "expired": stored.expired,
            "delivery": stored.delivery}


def cmd_msg(args: argparse.Namespace) -> int:
    from ..api import Memory
    from ..api.messaging import Messenger
    from ..core.timeutil import parse_when

    with Memory() as mem:
        m = Messenger(mem)
        action = args.msg_command
        if action == "send":
            body = sys.stdin.read() if args.body == "-" else args.body
            msg = m.send(body, to_session=args.to_session, to_agent=args.to_agent,
                         scope=args.scope, content_type=args.content_type,
                         correlation_id=args.correlation_id, requires_ack=args.requires_ack,
                         ttl_sec=args.ttl)
            if args.json:
                dump_json(msg.to_wire())
            else:
                print(f"sent {msg.msg_id} to {msg.recipient_kind} {msg.recipient_id} "
                      f"(scope {msg.scope}, expires {msg.expires_at})")
        elif action == "inbox":
            items = m.inbox(unread_only=not args.all, scope=args.scope,
                            since=parse_when(args.since) if args.since else None, limit=args.limit)
            if args.json:
                dump_json([_view(s) for s in items])
            elif not items:
                print("no unread messages" if not args.all else "no messages")
            for s in items if not args.json else []:
                msg = s.message
                state = "acked" if s.acks else ("needs ack" if msg.requires_ack else "unread")
                print(f"{msg.msg_id[:12]} from {msg.sender_agent_id} ({msg.sender_session_id}) "
                      f"{ago(msg.created_at)} [{msg.scope}, {state}]\n    {msg.body}")
        elif action == "ack":
            ack = m.ack(args.msg_id)
            if args.json:
                dump_json(ack.to_wire())
            else:
                print(f"acked {ack.msg_id} as session {ack.recipient_session_id}")
        elif action == "status":
            items = m.status(args.msg_id, args.limit)
            queued = m.queued_note()
            if args.json:
                dump_json([_view(s) for s in items])
            elif not items:
                print("nothing sent from this session or agent")
            for s in items if not args.json else []:
                msg = s.message
                acks = ", ".join(f"{a.recipient_session_id} at {a.acked_at}" for a in s.acks)
                state = f"acked by {acks}" if acks else ("awaiting ack" if msg.requires_ack
                                                         else "not acked")
                delivery = {"queued": queued, "sent": "sent",
                            "received": "received"}[s.delivery]
                print(f"{msg.msg_id[:12]} to {msg.recipient_kind} {msg.recipient_id} "
                      f"[{msg.scope}] {delivery}, {state}{' (expired)' if s.expired else ''}")
        elif action == "who":
            sessions = m.who()
            if args.json:
                dump_json(sessions)
            elif not sessions:
                print("no agent sessions online (sessions are MCP servers of running agents)")
            for sess in sessions if not args.json else []:
                where = (f"here, pid {sess['pid']}" if sess.get("host") == "local"
                         else f"on host {str(sess.get('pc_id', '?'))[:8]}")
                print(f"{sess['agent_id']} session {sess['session_id']} ({where})")
        else:
            count = m.purge_expired()
            if args.json:
                dump_json({"purged": count})
            else:
                print(f"purged {plural(count, 'expired message')}")
    return 0
