#!/usr/bin/env python3
"""Ask the deployed agent one question: a Responses API turn through Llama Stack with the MCP tools.

    make ask PROMPT='which namespaces are there?'          # STACK=dev by default
    make ask PROMPT='call pods_list_in_namespace {"namespace": "llama-stack"}'
    python -m ops.ask --stack prod --token "$(oc whoami -t)" 'which pods are failing?'

It uses the official OpenAI client, as an agent would: the model Llama Stack serves (the first, or
--model), the `kubernetes` connector as an MCP tool and, with mcpServer.passthrough, the caller's
token forwarded to the MCP server so the tool runs as the person asking. Prints the tool the model
called, what the tool returned, and the answer. On the local cluster the model is a scripted
stand-in (testbed/localcluster/model.py): it calls the tool a prompt names, else `namespaces_list`.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import subprocess
import sys
from typing import Any, Optional

from ops import reach

CONNECTOR = "kubernetes"


def agent_turn(base: str, token: str, prompt: str, server_url: Optional[str] = None, insecure: bool = False,
               forward: bool = True, model: Optional[str] = None) -> dict[str, Any]:
    """One Responses API turn through the official OpenAI client.

    The caller's token goes to Llama Stack (Authorization) and, as the MCP tool's `authorization`,
    on to the MCP server (unless `forward` is False). With a server that requires a token the tool
    names it by `server_url`: Llama Stack 0.7.3 and OGX 1.5.0 resolve a `connector_id` by asking the
    server for its info *without* the token, which fails with 401.
    """
    import httpx
    import openai

    client = openai.OpenAI(base_url=f"{base}/v1", api_key=token, max_retries=0, timeout=120,
                           http_client=httpx.Client(verify=not insecure))
    ids = [m.id for m in client.models.list()]
    chosen = next((i for i in ids if model is None or i == model or i.endswith(f"/{model}")), None)
    if chosen is None:
        raise LookupError(f"Llama Stack serves no model{f' named {model!r}' if model else ''} (it serves {ids})")
    target = {"server_url": server_url} if server_url else {"connector_id": CONNECTOR}
    forwarded = {"authorization": token} if forward else {}
    response = client.responses.create(model=chosen, input=prompt, tools=[{
        "type": "mcp", "server_label": CONNECTOR, **target, **forwarded}])
    calls = [item for item in response.output if item.type == "mcp_call"]
    # On a failed tool call Llama Stack 0.7.3 reports only "Error (code 1): None" in the call item;
    # the server's message (the API server's Forbidden) reaches the model, whose answer may quote it.
    first = calls[0] if calls else None
    return {"model": chosen, "name": first.name if first else None, "error": (first.error or "") if first else "",
            "output": (first.output or "") if first else "", "calls": len(calls), "answer": response.output_text}


def main(argv: Optional[list[str]] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("prompt")
    parser.add_argument("--stack", default="dev", help="read the URLs from this stack's outputs")
    parser.add_argument("--llama-stack-url", help="Llama Stack's base URL (default: the stack's route)")
    parser.add_argument("--token", default=os.environ.get("LLAMA_STACK_TOKEN"),
                        help="your token for Llama Stack (and, with passthrough, the MCP server); "
                             "default $LLAMA_STACK_TOKEN")
    parser.add_argument("--model", help="the model id (default: the first Llama Stack serves)")
    parser.add_argument("--insecure", action="store_true", help="do not verify TLS certificates")
    parser.add_argument("--port-forward", action="store_true", default=reach.port_forward_by_default(),
                        help="reach Llama Stack through a port-forward of its Service (the default on the "
                             f"local cluster: ${reach.PORT_FORWARD_ENV})")
    args = parser.parse_args(argv)
    if not args.token:
        parser.error("give --token (or LLAMA_STACK_TOKEN): Llama Stack asks every caller who they are")
    try:
        outputs = reach.stack_outputs(args.stack)
    except (RuntimeError, subprocess.CalledProcessError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    # The MCP server serves TLS exactly when it runs tools with the caller's token (passthrough).
    passthrough = str(outputs.get("mcpServerUrl", "")).startswith("https://")
    with contextlib.ExitStack() as forwards:
        base, insecure = args.llama_stack_url or outputs.get("llamaStackUrl"), args.insecure
        service, namespace, port, scheme = reach.service_of(outputs["llamaStackInternalUrl"])
        edge = base and not args.llama_stack_url and args.port_forward and reach.edge_serving(namespace, service)
        if edge:  # the real URL, at the local edge
            base = forwards.enter_context(reach.connected_at(base, edge))
        elif args.port_forward or not base:
            base = forwards.enter_context(reach.port_forward(namespace, service, port, scheme))
            insecure = insecure or scheme == "https"  # its certificate names the Service, not 127.0.0.1
        try:
            turn = agent_turn(base, args.token, args.prompt, outputs["mcpServerUrl"] if passthrough else None,
                              insecure, forward=passthrough, model=args.model)
        except Exception as err:  # noqa: BLE001 - the client's errors, said plainly
            print(f"error: {type(err).__name__}: {err}", file=sys.stderr)
            return 1
    print(f"model:  {turn['model']}")
    if turn["name"]:
        print(f"tool:   {turn['name']}{' (failed: ' + turn['error'] + ')' if turn['error'] else ''}")
        output = turn["output"]
        print(f"result: {output[:4000]}{' …' if len(output) > 4000 else ''}")
    print(f"answer: {turn['answer']}")
    return 1 if turn["error"] else 0


if __name__ == "__main__":
    sys.exit(main())
