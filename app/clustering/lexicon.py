"""Word lists for Swedish and English business text: stopwords, weak words and a bilingual concept lexicon.

The concept lexicon maps general business and IT vocabulary in both languages (with a few Norwegian and
Danish spellings) to one concept, so that "fakturering" and "invoicing" count as the same evidence. It is
deliberately generic: words a signal about any customer might use, never names from a particular account.
"""

from __future__ import annotations

# fmt: off

STOPWORDS_EN = frozenset(
    """
    a about above after again against all almost also am an and any are around as at be because been before
    being below between both but by can could did do does doing done down during each either else even ever
    every few for from further get gets got had has have having he her here hers herself him himself his how
    i if in into is it its itself just let me might more most much must my myself no nor not now of off on
    once one only or other our ours ourselves out over own per quite rather really same seems she should so
    some still such than that the their theirs them themselves then there these they this those though
    through to too under until up upon us very via was we were what when where which while who whom whose why
    will with within without would yet you your yours yourself yourselves i'd i'm it's they're we'd we're
    we'll don't doesn't can't isn't aren't wasn't weren't won't
    """.split()  # noqa: SIM905 - a word list reads better as text
)

STOPWORDS_SV = frozenset(
    """
    och att det som en på är av för med till den har de inte om ett men var jag sig från vi så kan man när
    år säger hon nu ska också efter eller två nya bara hade sina mot där vara skulle allt alla vid utan
    under sedan vilken vilket hur denna detta dessa deras dem honom hans hennes vårt våra mig mitt min mina
    oss sin sitt du dig din ditt dina ni er ert era blir blev bli varit vill ville få fick får hos mer mest
    mycket något någon några inga ingen inget än ju då dock även samt kring ut upp in över här dit där
    ha hade haft kunna kunde måste bör borde skall sådan sådant sådana vilka varje eftersom ifall fast
    redan alltså just lite ganska ens genom emellan mellan innan än tills
    """.split()  # noqa: SIM905 - a word list reads better as text
)

# Words that carry little evidence about which opportunity a signal belongs to: reporting verbs, generic
# nouns of the trade, hedges. They keep a small weight instead of none.
WEAK_WORDS = frozenset(
    """
    customer customers client clients kund kunden kunder kunderna want wants wanted asked ask asking need needs
    needed would like think said says told mentioned wrote called call met meeting today currently now
    new old big small good better best bad problem problems issue issues thing things way ways work works
    working team teams people person someone something nobody everyone time times week weeks month months
    year years day days us our we they them their vill frågade fråga behöver behov säger sa sade berättade
    nämnde idag nu ny nytt nya gammal gamla stor stora liten små bra bättre problem ärende ärendet ärenden
    sak saker sätt arbete team personer någon vecka veckor månad månader år dag dagar vi oss kunde
    could should make made take took use used using going go help hjälp göra gör gjort ta tar tog använda
    använder also mm ca about around roughly approximately ungefär runt cirka omkring
    """.split()  # noqa: SIM905 - a word list reads better as text
)

# Each entry: one concept, the words that express it. Words are written in their base form; the stemmer
# brings inflected forms to the same stem. Swedish entries also serve as compound parts ("fakturasystemet").
CONCEPTS: dict[str, tuple[str, ...]] = {
    "invoice": ("invoice", "invoicing", "billing", "bill", "faktura", "fakturering", "fakturera", "debitering"),
    "payroll": ("payroll", "salary", "wage", "wages", "lön", "löne", "lönesystem", "löneavdelning", "lönegrupp",
                "lønn", "løn"),
    "timesheet": ("timesheet", "timesheets", "tidrapport", "tidrapportering", "timeregistrering"),
    "hours": ("hours", "hour", "timmar", "timme", "timer"),
    "approval": ("approval", "approve", "approved", "attest", "attestera", "godkänna", "godkännande"),
    "schedule": ("schedule", "scheduling", "roster", "rostering", "shift", "shifts", "schema", "schemaläggning"),
    "sick": ("sick", "illness", "sjuk", "sjukfrånvaro", "sjukskrivning"),
    "absence": ("absence", "absent", "frånvaro"),
    "overtime": ("overtime", "övertid"),
    "customer_service": ("kundtjänst", "kundservice", "helpdesk", "servicedesk", "customer service",
                         "customer services", "customer support", "contact centre", "contact center",
                         "call centre", "call center", "kundesenter", "kundeservice", "kundcenter"),
    "moving": ("move", "moving", "move-in", "move-out", "relocation", "flytt", "flytta", "flyttning"),
    "self_service": ("self-service", "selfservice", "självservice"),
    "meter": ("meter", "meters", "metering", "mätare", "mätar", "mätvärde", "mätning", "måler"),
    "quarter_hour": ("quarter-hour", "kvartsvärde", "kvartspris", "kvart", "kvartstimme"),
    "price": ("price", "prices", "pricing", "pris", "priser", "prissättning", "prislista"),
    "tariff": ("tariff", "tariffs", "taxa", "tariffer"),
    "settlement": ("settlement", "avräkning"),
    "report": ("report", "reports", "reporting", "rapport", "rapportera", "rapportering", "redovisa", "redovisning"),
    "dashboard": ("dashboard", "dashboards", "instrumentpanel"),
    "consolidation": ("consolidation", "consolidated", "consolidate", "konsolidering", "konsolidera"),
    "group": ("group-wide", "koncern", "konsern", "koncernen", "group level", "group reporting",
              "group consolidation", "group controller", "group finance", "group management", "koncernledning"),
    "subsidiary": ("subsidiary", "subsidiaries", "dotterbolag", "datterselskap", "dattervirksomhed"),
    "board": ("board", "styrelse", "styret", "bestyrelse"),
    "finance": ("finance", "financial", "ekonomi", "ekonomiavdelning", "økonomi"),
    "controller": ("controller", "controlling"),
    "monthly": ("monthly", "month-end", "månadsvis", "månadsbokslut", "månadsrapport", "månatlig", "månedlig"),
    "close": ("close", "closing", "bokslut"),
    "ledger": ("ledger", "ledgers", "trial balance", "huvudbok", "huvudbok", "reskontra"),
    "hr": ("hr", "personalavdelning", "hr-chef"),
    "headcount": ("headcount", "personalstyrka", "bemanning", "manning"),
    "turnover": ("turnover", "personalomsättning"),
    "country": ("country", "countries", "land", "länder"),
    "norway": ("norway", "norwegian", "norge", "norsk", "norska", "norske", "nok"),
    "sweden": ("sweden", "swedish", "sverige", "svensk", "svenska", "sek"),
    "denmark": ("denmark", "danish", "danmark", "dansk", "danska", "dkk"),
    "finland": ("finland", "finnish", "finsk", "finska", "suomi"),
    "germany": ("germany", "german", "tyskland", "tysk", "tyska", "deutschland"),
    "uk": ("uk", "britain", "british", "england", "english market", "storbritannien"),
    "usa": ("usa", "us market", "american", "amerikansk", "amerikanska"),
    "poland": ("poland", "polish", "polen", "polsk", "polska"),
    "baltics": ("estonia", "estonian", "latvia", "lithuania", "estland", "lettland", "litauen", "baltikum"),
    "netherlands": ("netherlands", "dutch", "holland", "nederländerna", "nederlandsk"),
    "france": ("france", "french", "frankrike", "fransk", "franska"),
    "iceland": ("iceland", "icelandic", "isländsk"),
    "technician": ("technician", "technicians", "tekniker", "servicetekniker", "montör"),
    "work_order": ("work order", "workorder", "arbetsorder", "arbeidsordre", "serviceorder"),
    "paper": ("paper", "papper", "papir", "pappersblankett"),
    "mobile_app": ("app", "apps", "mobile", "mobil", "mobilapp", "phone app"),
    "tablet": ("tablet", "surfplatta", "handdator", "handheld"),
    "claim": ("claim", "claims", "skada", "skadeanmälan", "skadeärende", "skadehantering"),
    "form": ("form", "forms", "formulär", "blankett", "skjema"),
    "document": ("document", "documents", "dokument", "handling", "handlingar"),
    "document_management": ("dms", "document management", "dokumenthantering", "ärendehantering"),
    "migration": ("migrate", "migration", "migrering", "migrera"),
    "contract": ("contract", "agreement", "avtal", "kontrakt", "avtalet", "aftale"),
    "tender": ("tender", "re-tender", "procurement", "rfp", "upphandling", "anbud", "udbud", "lou"),
    "vendor": ("vendor", "vendors", "supplier", "suppliers", "provider", "leverantör", "leverandør"),
    "replace": ("replace", "replaced", "replacing", "switch", "byta", "byter", "ersätta", "utbytt", "bytte"),
    "terminate": ("terminate", "termination", "cancel", "cancellation", "uppsägning", "säga upp", "sägs upp",
                  "oppsigelse", "opsigelse"),
    "renewal": ("renewal", "renew", "renews", "förnyelse", "förnya", "fornyelse"),
    "extend": ("extend", "extension", "förlänga", "förlängning", "utöka", "utökning"),
    "risk": ("risk", "risks", "threat", "threaten", "threatens", "hot", "hota", "hotar"),
    "security": ("security", "cyber", "cybersecurity", "säkerhet", "cybersäkerhet", "sikkerhet"),
    "incident": ("incident", "incidents", "incidentrutin"),
    "logging": ("log", "logs", "logging", "logg", "loggning"),
    "monitoring": ("monitoring", "monitor", "surveillance", "övervakning", "overvåking", "soc"),
    "alert": ("alert", "alerts", "alarm", "alarms", "larm", "notification", "reminder", "påminnelse", "varsel"),
    "leak": ("leak", "leaks", "leakage", "läcka", "läckage", "läckor", "lekkasje"),
    "water": ("water", "vatten", "vann", "vand"),
    "warehouse": ("warehouse", "wms", "lager", "lagersystem"),
    "delivery": ("delivery", "deliveries", "deliver", "leverans", "leverera", "levering"),
    "tracking": ("track", "tracking", "track-and-trace", "trace", "spårning", "spåra", "eta", "status"),
    "traceability": ("traceability", "traceable", "spårbarhet", "sporbarhet"),
    "store": ("store", "stores", "shop", "butik", "butiker", "butikk"),
    "pos": ("pos", "point of sale", "kassasystem", "kassa", "kasse"),
    "file_transfer": ("file transfer", "file transfers", "filöverföring", "sftp", "ftp"),
    "webshop": ("webshop", "e-commerce", "ecommerce", "online shop", "e-handel", "nätbutik", "netbutik"),
    "currency": ("currency", "currencies", "valuta", "valutor", "euro", "eur"),
    "vat": ("vat", "moms", "mva"),
    "carrier": ("carrier", "shipping", "freight", "frakt", "fraktbolag", "transportör"),
    "returns": ("returns", "return", "returer", "retur"),
    "payment": ("payment", "payments", "betalning", "betalningar", "betaling", "betalsätt"),
    "estimate": ("estimate", "estimation", "uppskattning", "estimat", "bedömning", "overslag"),
    "quote": ("quote", "quotation", "proposal", "offer", "offert", "anbud", "tilbud", "fixed price", "fast pris"),
    "prestudy": ("pre-study", "prestudy", "feasibility", "förstudie", "forstudie"),
    "pilot": ("pilot", "poc", "proof of concept", "pilotera", "pilota", "test run"),
    "demo": ("demo", "demonstration", "visning"),
    "workshop": ("workshop", "requirements", "krav", "kravställning"),
    "launch": ("launch", "go-live", "go live", "lansering", "lansera", "driftstart"),
    "summer": ("summer", "sommar", "sommaren", "sommer"),
    "autumn": ("autumn", "fall", "höst", "hösten", "høst"),
    "driver": ("driver", "drivers", "chaufför", "chaufförer", "förare", "sjåfør"),
    "signature": ("signature", "sign", "signed", "underskrift", "signatur", "påskriven"),
    "photo": ("photo", "photos", "image", "images", "picture", "pictures", "foto", "bild", "bilder", "bilde"),
    "receipt": ("receipt", "proof of delivery", "pod", "kvittens", "leveranskvittens"),
    "consignment_note": ("consignment note", "waybill", "fraktsedel", "fraktsedlar"),
    "search": ("search", "searching", "sökning", "söka", "sök", "søk"),
    "archive": ("archive", "archives", "arkiv"),
    "tagging": ("tagging", "tags", "tag", "taggar", "taggning"),
    "ai": ("ai", "llm", "machine learning", "semantic", "semantisk", "maskininlärning"),
    "certificate": ("certificate", "certificates", "certifikat", "intyg", "sertifikat"),
    "expiry": ("expiry", "expire", "expired", "expires", "utgånget", "förfaller", "utløp"),
    "forecast": ("forecast", "forecasting", "prediction", "predict", "predictive", "prognos", "prognose"),
    "power_plant": ("power plant", "plant", "plants", "kraftverk", "kraftstation", "kraftverket"),
    "regulator": ("regulator", "authority", "authorities", "myndighet", "tillsynsmyndighet", "tilsyn"),
    "production": ("production", "produktion", "produksjon"),
    "acquisition": ("acquisition", "acquired", "acquire", "bought", "förvärv", "förvärvat", "köpt", "oppkjøp"),
    "platform": ("platform", "plattform"),
    "machine": ("machine", "machines", "maskin", "maskiner", "maskindata"),
    "maintenance": ("maintenance", "underhåll", "vedlikehold", "service contract", "serviceavtal"),
    "dealer": ("dealer", "dealers", "reseller", "återförsäljare", "handlare", "forhandler"),
    "tenant": ("tenant", "tenants", "hyresgäst", "hyresgäster", "leietaker", "lejer"),
    "apartment": ("apartment", "apartments", "flat", "lägenhet", "lägenheter", "leilighet", "lejlighed"),
    "fault_report": ("fault report", "fault reports", "felanmälan", "felanmälningar", "fejlmelding", "feilmelding"),
    "fault": ("fault", "faults", "error", "errors", "fel", "felen", "feil", "fejl", "defect", "failure", "failures",
              "breakdown", "breakdowns", "break down", "broken", "haveri", "haverier", "sönder", "trasig"),
    "property": ("property", "properties", "real estate", "fastighet", "fastigheter", "eiendom", "ejendom"),
    "energy": ("energy", "energi", "energy follow-up"),
    "heating": ("heating", "district heating", "fjärrvärme", "värme", "fjernvarme"),
    "electricity": ("electricity", "power", "el", "elnät", "strøm", "ström"),
    "validation": ("validation", "validate", "validering", "validera", "gxp"),
    "test": ("test", "tests", "testing", "testkörning", "testbevis", "test evidence", "test scripts"),
    "release": ("release", "releases", "version", "utgåva"),
    "documentation": ("documentation", "dokumentation", "dokumentasjon"),
    "school": ("school", "schools", "skola", "skolor", "skole"),
    "student": ("student", "students", "pupil", "pupils", "elev", "elever"),
    "principal": ("principal", "principals", "head teacher", "rektor", "rektorer"),
    "teacher": ("teacher", "teachers", "lärare", "lærer"),
    "climate": ("carbon", "co2", "climate", "emissions", "footprint", "klimat", "klimatavtryck", "utsläpp",
                "koldioxid", "klima"),
    "article": ("article", "articles", "part", "parts", "artikel", "artiklar", "artikelnummer", "part number"),
    "sustainability": ("sustainability", "esg", "csrd", "hållbarhet", "bærekraft"),
    "lot": ("lot", "lots", "batch", "parti", "partier"),
    "label": ("label", "labels", "labelling", "relabel", "etikett", "etiketter", "märkning"),
    "repack": ("repack", "repacking", "ompackning", "ompacka"),
    "cio": ("cio", "it manager", "it director", "it-chef", "it-direktör", "it-sjef", "it lead"),
    "ceo": ("ceo", "managing director", "vd", "verkställande direktör", "administrerende direktør"),
    "cfo": ("cfo", "finance director", "ekonomichef", "finanschef", "økonomisjef"),
    "cto": ("cto", "teknikchef", "technical director"),
    "manual": ("manual", "manually", "by hand", "hand", "manuell", "manuellt", "handpåläggning", "manuelt"),
    "automation": ("automate", "automated", "automatic", "automatically", "automation", "automatisk",
                   "automatiskt", "automatisera", "automatiserad", "automatisering"),
    "email": ("e-mail", "email", "e-mails", "mail", "mejl", "epost", "e-post"),
    "phone": ("phone", "telephone", "phoning", "telefon", "ringer", "ringa", "samtal", "calls"),
    "excel": ("excel", "spreadsheet", "spreadsheets", "workbook", "kalkylark"),
    "volume": ("volume", "volumes", "volym", "volymer", "volum"),
    "storage": ("storage", "lagring"),
    "load_test": ("load test", "lasttest", "load testing", "belastningstest"),
    "batching": ("batching", "batch job", "nattbatch", "nightly", "nattetid", "night-time", "natt"),
    "streaming": ("streaming", "stream", "strömmande", "realtid", "real-time"),
    "architecture": ("architecture", "arkitektur"),
    "integration": ("integration", "integrations", "integrera", "integrering", "integrationen"),
    "api": ("api", "apis", "api-based", "rest"),
    "timeout": ("timeout", "timeouts", "timed out", "timeoutat"),
    "performance": ("performance", "prestanda", "ytelse", "slow", "långsam"),
    "support": ("support", "supporten", "service level", "sla", "response time", "svarstid", "svarstider"),
    "ams": ("ams", "application management", "förvaltning", "förvaltningsavtal", "forvaltning"),
    "on_call": ("on-call", "24/7", "jour", "beredskap"),
    "recruitment": ("recruitment", "recruiting", "applicant", "applicants", "candidate", "candidates", "cv",
                    "rekrytering", "kandidat", "kandidater", "ansökan", "ansökningar"),
    "onboarding": ("onboarding", "onboard", "kundkännedom", "kyc", "aml", "anti-money-laundering",
                   "penningtvätt", "hvidvask"),
    "identity": ("id", "identity", "legitimation", "bankid", "beneficial owners", "verkliga huvudmän"),
    "reconciliation": ("reconciliation", "reconcile", "reconciling", "avstämning", "avstemming", "afstemning"),
    "subscription": ("subscription", "subscriptions", "abonnemang", "abonnement"),
    "deviation": ("deviation", "deviations", "avvikelse", "avvikelser", "avvik", "afvigelse"),
    "offline": ("offline", "coverage", "täckning", "uppkoppling"),
    "telemetry": ("telemetry", "sensor", "sensors", "sensordata", "sensorer", "iot"),
    "hospital": ("hospital", "ward", "wards", "sjukhus", "vårdavdelning"),
    "care": ("care", "home care", "omsorg", "hemtjänst", "vård"),
    "licence": ("licence", "license", "licenses", "licenses", "licens", "licenser", "lisens"),
    "language": ("translation", "language", "språk", "ui texts", "översättning"),
    "municipality": ("municipality", "municipalities", "municipal", "kommun", "kommuner", "kommune"),
    "households": ("households", "household", "hushåll", "husstander", "husstande"),
    "ordering": ("ordering", "order", "orders", "beställning", "beställningar", "bestilling"),
    "activation": ("activation", "activate", "aktivering", "aktivera"),
    "fibre": ("fibre", "fiber", "broadband", "bredband"),
    "merger": ("merger", "merge", "fusion", "sammanslagning", "fusjon"),
    "budget": ("budget", "budgeten", "funding", "anslag"),
    "decision": ("decision", "decide", "beslut", "besluta", "beslutning"),
    "change_request": ("change request", "ändringsbegäran", "tilläggsbeställning", "endringsordre"),
    "scope": ("scope", "omfattning", "omfang"),
    "weekly": ("weekly", "veckovis", "ukentlig", "ugentlig"),
    "daily": ("daily", "dagligen", "daglig", "dagliga"),
    "competitor": ("competitor", "competitors", "konkurrent", "konkurrenter", "other vendors", "alternatives",
                   "alternativ"),
    "export": ("export", "exports", "exportera", "exporten"),
    "import": ("import", "imports", "importera", "importen", "inläsning"),
    "sales": ("sales", "försäljning", "salg", "sell", "selling", "sälja", "säljer", "selge", "sælge"),
    "aftermarket": ("aftermarket", "aftersales", "after-sales", "eftermarknad", "ettermarked", "eftermarked"),
    "diary": ("diary", "logbook", "log book", "dagbok", "loggbok", "dagbog", "dagbok"),
    "target": ("target", "targets", "goal", "goals", "kpi", "kpis", "målsättning", "målet", "nyckeltal",
               "målsetting"),
    "management": ("management team", "leadership team", "executive team", "ledningsgrupp", "ledningen",
                   "ledningsmöte", "ledelse", "ledelsen", "ledergruppe"),
    "weather": ("weather", "väder", "vädret", "været", "vejret"),
    "registration": ("registration", "register", "registering", "registrera", "registrering", "registrere"),
    "chart": ("chart", "charts", "graph", "graphs", "diagram", "graf", "grafer"),
    "stock": ("stock", "inventory", "lagersaldo", "lagerbeholdning"),
    "receipt_upload": ("upload", "ladda upp", "laste opp"),
    "address": ("address", "adress", "adresser", "adresse"),
    "vehicle": ("vehicle", "vehicles", "truck", "trucks", "bil", "bilar", "fordon", "kjøretøy"),
    "workshop_garage": ("garage", "verkstad", "verkstäder", "verksted"),
    "booking": ("booking", "book", "bokning", "boka", "booking system"),
    "portal": ("portal", "portals", "portalen", "webbportal"),
    "site_visit": ("site visit", "site visits", "platsbesök", "befaring"),
}


# Concepts that place a signal in a country or market. Two signals that both name places, and no place in
# common, are about different geographies (Norway vs Denmark) and so, usually, different opportunities.
PLACE_CONCEPTS = frozenset(
    {"norway", "sweden", "denmark", "finland", "germany", "uk", "usa", "poland", "baltics", "netherlands",
     "france", "iceland"}
)

# Cities and regions that place a signal in a country (Nordic and nearby markets): "the Bergen office" is
# Norway even when the text never says so.
PLACE_NAMES: dict[str, str] = {
    **dict.fromkeys(
        ("oslo", "bergen", "trondheim", "stavanger", "ålesund", "tromsø", "bodø", "kristiansand", "drammen",
         "fredrikstad", "sandnes", "haugesund", "molde", "sogn", "hordaland", "rogaland", "finnmark",
         "lofoten", "narvik", "hammerfest", "arendal", "skien", "lillehammer", "hamar"),
        "norway",
    ),
    **dict.fromkeys(
        ("københavn", "copenhagen", "aarhus", "århus", "odense", "aalborg", "esbjerg", "randers", "kolding",
         "horsens", "vejle", "roskilde", "herning", "silkeborg", "fredericia", "jylland", "jutland",
         "sjælland", "fyn", "bornholm", "skagen", "hirtshals", "thyborøn"),
        "denmark",
    ),
    **dict.fromkeys(
        ("helsinki", "helsingfors", "espoo", "tampere", "tammerfors", "vantaa", "oulu", "uleåborg", "turku",
         "åbo", "jyväskylä", "lahti", "kuopio", "pori", "joensuu", "lappeenranta", "vaasa", "vasa", "rovaniemi"),
        "finland",
    ),
    **dict.fromkeys(
        ("stockholm", "göteborg", "gothenburg", "malmö", "uppsala", "västerås", "örebro", "linköping",
         "helsingborg", "jönköping", "norrköping", "lund", "umeå", "gävle", "borås", "sundsvall", "luleå",
         "karlstad", "växjö", "halmstad", "kiruna", "skåne", "norrland", "gotland"),
        "sweden",
    ),
    **dict.fromkeys(
        ("hamburg", "berlin", "munich", "münchen", "frankfurt", "cologne", "köln", "bremen", "kiel",
         "stuttgart", "düsseldorf", "hannover", "leipzig", "dresden", "rostock", "lübeck"),
        "germany",
    ),
    **dict.fromkeys(("london", "manchester", "birmingham", "edinburgh", "glasgow", "aberdeen", "leeds"), "uk"),
    **dict.fromkeys(("tallinn", "riga", "vilnius", "tartu"), "baltics"),
    **dict.fromkeys(("warsaw", "warszawa", "gdansk", "gdańsk", "krakow", "kraków", "szczecin"), "poland"),
    **dict.fromkeys(("amsterdam", "rotterdam", "utrecht", "eindhoven"), "netherlands"),
    **dict.fromkeys(("paris", "lyon", "marseille", "toulouse"), "france"),
    **dict.fromkeys(("reykjavik", "reykjavík"), "iceland"),
}
# fmt: on
