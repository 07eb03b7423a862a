"""Configuration of the HubSpot adapter. The service's settings layer builds it; nothing here reads the env."""

from __future__ import annotations

from dataclasses import dataclass, field

HUBSPOT_API = "https://api.hubapi.com"


@dataclass(frozen=True)
class HubSpotPropertyNames:
    """Internal names of the deal properties the service owns, all in one property group."""

    group: str = "signal_pipeline"
    group_label: str = "Signal pipeline"
    opportunity_id: str = "signal_pipeline_opportunity_id"  # hasUniqueValue: the upsert key
    originator_email: str = "signal_pipeline_originator_email"
    originator_function: str = "signal_pipeline_originator_function"
    contributors: str = "signal_pipeline_contributors"
    contributor_functions: str = "signal_pipeline_contributor_functions"
    signal_count: str = "signal_pipeline_signal_count"
    kinds: str = "signal_pipeline_kinds"
    first_seen_at: str = "signal_pipeline_first_seen_at"
    source_links: str = "signal_pipeline_source_links"


@dataclass(frozen=True)
class HubSpotConfig:
    """What the adapter needs to reach one HubSpot portal (or the sandbox) and write deals there.

    ``base_url`` is HubSpot's API root or the sandbox's URL (including any mount prefix). ``access_token`` is a
    private-app or OAuth token; ``client_secret`` signs webhooks (v3). Timeouts are seconds.
    """

    access_token: str = field(repr=False)
    base_url: str = HUBSPOT_API
    client_secret: str | None = field(default=None, repr=False)
    pipeline_id: str = "default"
    initial_stage_id: str = "appointmentscheduled"
    properties: HubSpotPropertyNames = field(default_factory=HubSpotPropertyNames)
    # 5 = primary deal->company, 341 = unlabeled (HUBSPOT_DEFINED); only these two are valid for deal->company
    association_type_id: int = 5
    batch_size: int = 100
    connect_timeout: float = 5.0
    read_timeout: float = 30.0
    # used when a 429 carries neither Retry-After nor X-HubSpot-RateLimit-Interval-Milliseconds
    default_retry_after: float = 10.0
    # HubSpot's search allows 5 requests/s per account (its own bucket); stay under it when paging
    search_min_interval: float = 0.25
    search_window: int = 10_000  # HubSpot refuses to page one search past 10,000 results
    # Search is eventually consistent ("a few moments", crm-apis.md a7) and changes surface out of order, so an
    # incremental pull re-reads this far behind its cursor; re-reading is harmless (upserts).
    search_index_lag_seconds: float = 30.0
    owner_cache_seconds: float = 900.0
    pipeline_cache_seconds: float = 900.0
    webhook_tolerance_seconds: float = 300.0
    # collaborators are contributors' HubSpot users; on updates they are rewritten from our contributor list
    collaborators_on_update: bool = True
    # stage ids that mean "closed, not pursued" rather than lost (both have probability 0)
    not_pursued_stage_ids: tuple[str, ...] = ()
    # owns new deals whose account owner is not an active HubSpot owner (None: the deal gets no owner)
    default_owner_id: str | None = None
    portal_id: str | None = None
    record_url_template: str = "https://app.hubspot.com/contacts/{portal_id}/record/0-3/{crm_id}"

    def __post_init__(self) -> None:
        if not self.access_token:
            raise ValueError("HubSpotConfig.access_token is required")
        if not 1 <= self.batch_size <= 100:
            raise ValueError("HubSpotConfig.batch_size must be 1..100 (HubSpot's object batch limit)")
        if self.association_type_id not in (5, 341):
            raise ValueError("HubSpotConfig.association_type_id must be 5 (primary) or 341 (unlabeled)")
