"""``vigie serve``: the command center's live map page and API."""

from __future__ import annotations

import argparse


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add ``vigie serve``."""
    parser = subparsers.add_parser(
        "serve",
        help="live map page of incidents with acknowledgements (needs tokens)",
        description="Serve the command center page: sectors, live incidents, evidence, "
        "acknowledgements. Tokens come from VIGIE_OPERATOR_TOKENS / VIGIE_VIEWER_TOKENS.",
    )
    parser.add_argument("--host", help="bind address (default VIGIE_SERVE_HOST)")
    parser.add_argument("--port", type=int, help="port (default VIGIE_SERVE_PORT)")
    parser.add_argument("--topic", help="incidents topic (default VIGIE_INCIDENTS_TOPIC)")
    parser.add_argument("--acks-topic", help="acks topic (default VIGIE_INCIDENT_ACKS_TOPIC)")
    parser.add_argument("--events-topic", help="events topic (default VIGIE_EVENTS_TOPIC)")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Run the server until interrupted."""
    import dataclasses

    from vigie.command_center.server import ServeOptions, serve
    from vigie.config import load_settings

    settings = load_settings()
    options = ServeOptions.from_settings(settings)
    options = dataclasses.replace(
        options,
        incidents_topic=args.topic or options.incidents_topic,
        acks_topic=args.acks_topic or options.acks_topic,
        events_topic=args.events_topic or options.events_topic,
    )
    serve(settings, options, args.host or settings.serve_host, args.port or settings.serve_port)
    return 0
