"""Dev script (never shipped): send one A2A message to a running runtime and print the answer.

cd workspace && python scripts/send_message.py http://127.0.0.1:PORT "hello"
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

# Scripts run from the source tree; the runtime's bare modules live one level up.
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from a2a_client import A2AError, discover_peer, send_message


def main(argv: list[str] | None = None) -> int:
    """Discover the peer, send the text, print the reply."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("url", help="the runtime's A2A URL, as printed when it is ready")
    parser.add_argument("text", help="the message text")
    parser.add_argument("--timeout", type=float, default=10.0)
    args = parser.parse_args(argv)
    try:
        peer = discover_peer(args.url, timeout=args.timeout)
        reply = send_message(peer.url, args.text, sender="dev-script", timeout=args.timeout)
    except A2AError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    print(f"{peer.name}: {reply.text}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
