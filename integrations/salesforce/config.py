"""Configuration of the Salesforce adapter; the service's settings layer builds it from its environment."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class SalesforceFieldNames:
    """API names of the custom Opportunity fields the service owns (GUARANTEE 5: it writes only these)."""

    external_id: str = "Signal_Pipeline_Id__c"  # External ID + Unique: the upsert key, our opportunity id
    originator_email: str = "Signal_Originator_Email__c"
    originator_function: str = "Signal_Originator_Function__c"
    contributors: str = "Signal_Contributors__c"
    contributor_functions: str = "Signal_Contributor_Functions__c"
    signal_count: str = "Signal_Count__c"
    kinds: str = "Signal_Kinds__c"
    first_seen: str = "Signal_First_Seen__c"
    source_links: str = "Signal_Source_Links__c"
    # A merged-away Opportunity is closed lost with this reason and a lookup to the survivor (crm setup creates
    # both; an org with its own loss-reason field can name it here instead).
    loss_reason: str = "Signal_Pipeline_Loss_Reason__c"
    duplicate_of: str = "Signal_Pipeline_Duplicate_Of__c"


@dataclass(frozen=True)
class SalesforceConfig:
    """How to reach the org and what to write.

    Authentication, in order of preference:
    - ``client_id`` + ``client_secret`` + ``username`` + ``password`` (+ ``security_token``): OAuth
      username-password grant at ``login_url``; the adapter re-authenticates once on INVALID_SESSION_ID.
    - ``client_id`` + ``client_secret`` alone: OAuth client-credentials grant at ``login_url`` (a My Domain
      URL); also refreshable.
    - ``session_id`` + ``instance_url``: a ready access token; an expired one raises ``AuthExpired``.
    """

    login_url: str = "https://login.salesforce.com"
    instance_url: str | None = None
    client_id: str | None = None
    client_secret: str | None = field(default=None, repr=False)
    username: str | None = None
    password: str | None = field(default=None, repr=False)
    security_token: str = field(default="", repr=False)
    session_id: str | None = field(default=None, repr=False)
    api_version: str = "62.0"  # sObject Collections upsert needs 46.0+
    fields: SalesforceFieldNames = field(default_factory=SalesforceFieldNames)
    initial_stage: str = "Prospecting"  # StageName on create; must be an open OpportunityStage
    close_date_offset_days: int = 90  # CloseDate on create when the record has none: today + this
    team_member_role: str = "Signal Contributor"  # OpportunityTeamMember.TeamMemberRole (admin-defined picklist)
    team_access_level: str | None = None  # OpportunityAccessLevel (Read/Edit/All); None keeps the org default
    bulk_threshold: int = 2000  # above this many records per call, use Bulk API 2.0 instead of collections
    bulk_poll_seconds: int = 5  # first wait before polling a Bulk job (simple-salesforce's ``wait``)
    timeout_seconds: float = 30.0  # per HTTP request
    rate_limit_retry_after: float | None = 900.0  # REQUEST_LIMIT_EXCEEDED has no Retry-After; back off this long
    ca_bundle: str | None = None  # a CA file to trust instead of the system store (sandbox, proxies)
    note_field: str | None = None  # an Opportunity field holding the seller's note for outcomes, if any
    create_missing_fields: bool = True  # setup() creates missing custom fields via the Tooling API
    max_text_length: int = 32_000  # cut long text fields to stay under the org's Long Text Area length
    # OpportunityTeamMember rows need Team Selling, which is off in a new org: "auto" asks the org once (describe),
    # "on"/"off" skip the question. Without it, credit lives only in the contributor fields crm setup creates.
    team_selling: str = "auto"
    # A merged-away Opportunity is set to this closed, not-won stage (None: the first active one the org's
    # OpportunityStage metadata lists), with this loss reason.
    lost_stage: str | None = None
    duplicate_loss_reason: str = "Duplicate"
    # owns new Opportunities whose account owner is an inactive User (None: the integration user owns them)
    default_owner_id: str | None = None
    # crm setup grants the integration user field-level security on our fields through this permission set.
    permission_set_name: str = "Signal_Pipeline_Integration"
    permission_set_label: str = "Signal Pipeline Integration"

    def __post_init__(self) -> None:
        if self.team_selling not in ("auto", "on", "off"):
            raise ValueError("SalesforceConfig.team_selling must be auto, on or off")

    @property
    def can_login(self) -> bool:
        return bool(self.client_id and self.client_secret)
