"""Block Kit shapes Slack shows: the "Send as signal" modal, its picker options and the messages we post.

Reference: https://api.slack.com/reference/surfaces/views (modal), https://api.slack.com/reference/block-kit/block-elements#external_select
(external select fed by the app's options load URL, answered with ``{"options": [...]}``),
https://api.slack.com/surfaces/modals#updating_apis (``response_action: errors`` keyed by block id).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from schemas.capture import AccountChoice, CapturedSignal, CaptureNotice

MODAL_CALLBACK_ID = "signal_submit"
CUSTOMER, KIND, TEXT = "customer", "kind", "text"  # block ids, each with an element of the same action id
TEXT_LIMIT = 3000  # plain_text_input's max_length
OPTION_TEXT_LIMIT = 75  # an option's text
MAX_OPTIONS = 100  # options per external select answer


def _plain(text: str) -> dict[str, Any]:
    return {"type": "plain_text", "text": text}


def _option(label: str, value: str) -> dict[str, Any]:
    return {"text": _plain(label[:OPTION_TEXT_LIMIT]), "value": value}


def signal_modal(kinds: Sequence[str], text: str, context: dict[str, str]) -> dict[str, Any]:
    """The modal: customer (external select), kind, and the text prefilled; ``context`` rides in private_metadata."""
    kind_options = [_option(k.replace("_", " "), k) for k in kinds]
    return {
        "type": "modal",
        "callback_id": MODAL_CALLBACK_ID,
        "title": _plain("Send as signal"),
        "submit": _plain("Send"),
        "close": _plain("Cancel"),
        "private_metadata": json.dumps(context, separators=(",", ":")),
        "blocks": [
            {
                "type": "input",
                "block_id": CUSTOMER,
                "label": _plain("Customer"),
                "element": {
                    "type": "external_select",
                    "action_id": CUSTOMER,
                    "placeholder": _plain("Type part of the name or domain"),
                    "min_query_length": 2,
                },
            },
            {
                "type": "input",
                "block_id": KIND,
                "label": _plain("Kind"),
                "element": {
                    "type": "static_select",
                    "action_id": KIND,
                    "options": kind_options,
                    **({"initial_option": kind_options[0]} if kind_options else {}),
                },
            },
            {
                "type": "input",
                "block_id": TEXT,
                "label": _plain("What did you notice?"),
                "element": {
                    "type": "plain_text_input",
                    "action_id": TEXT,
                    "multiline": True,
                    "max_length": TEXT_LIMIT,
                    **({"initial_value": text[:TEXT_LIMIT]} if text else {}),
                },
            },
        ],
    }


def account_options(accounts: Sequence[AccountChoice]) -> dict[str, Any]:
    return {"options": [_option(a.name, a.crm_id) for a in accounts[:MAX_OPTIONS]]}


def confirmation(result: CapturedSignal) -> str:
    """The ephemeral answer after a submit: what was stored and how it was attributed."""
    if not result.created:
        head = f"This was already sent as a signal: *{result.title}*."
    else:
        head = f"Thanks! Your signal *{result.title}* is stored."
    if result.status == "attributed" and result.account_name:
        how = f" (matched by {result.attribution_method}" if result.attribution_method else " ("
        conf = f", confidence {result.confidence:.0%})" if result.confidence is not None else ")"
        return f"{head} Customer: *{result.account_name}*{how}{conf}."
    return f"{head} Its customer could not be decided yet; someone will review it."


def notice_text(notice: CaptureNotice) -> str:
    """The DM to the contributor about their signal."""
    title = f"*{notice.title}*"
    link = f" <{notice.opportunity_url}|Open in the CRM>" if notice.opportunity_url else ""
    if notice.event == "opportunity.closed":
        outcome = {"won": "was won", "lost": "was lost", "not_pursued": "will not be pursued"}.get(
            notice.outcome or "", "was closed"
        )
        note = f"\n> {notice.note}" if notice.note else ""
        return f"The opportunity from your signal {title} {outcome}.{link}{note}"
    if notice.event == "signal.merged":
        return f"Your signal {title} joined an existing opportunity; you are credited as a contributor.{link}"
    if notice.event == "signal.attributed":
        account = f" to *{notice.account_name}*" if notice.account_name else ""
        return f"Your signal {title} was attributed{account}.{link}"
    return f"Update on your signal {title}: {notice.event}.{link}"
