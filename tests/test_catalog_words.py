"""The Indonesian catalog carries no word of the code: a school admin reads every text."""

import re

from tests.test_language import CATALOG, read_po

#: Words of the code that no Indonesian text may carry: a school admin reads them all (rows'
#: reasons, banners, alerts, pages). Fonnte's own queue ("antrean Fonnte") is the school's
#: business; the broker's is not, and no text names it.
DEVELOPER_WORDS = re.compile(
    r"\b(workers?|placeholders?|tokens?|webhooks?|endpoints?|lease|payload|JSON|HTTP|"
    r"gateway\w*|broker|Redis|Celery|[A-Z][A-Z0-9]*_[A-Z0-9_]+)\b",
    re.IGNORECASE,
)


def test_no_indonesian_text_carries_a_developer_word():
    """Setting names, HTTP codes and the machinery stay out of what a school admin reads."""
    found = {}
    for entry in read_po(CATALOG / "django.po")[1:]:
        for text in entry.msgstr.values():
            words = DEVELOPER_WORDS.findall(re.sub(r"%\(\w+\)[sd]", "", text))
            # A setting's name is in capitals: case matters for that one.
            words = [w for w in words if "_" not in w or w.isupper()]
            if words:
                found[entry.msgid] = words

    assert found == {}
