"""The controlled vocabulary of intent tags: canonical verbs, their families, object synonyms."""

from __future__ import annotations

# word (as it appears in a slug or a request) → canonical verb
VERB_SYNONYMS: dict[str, str] = {
    **dict.fromkeys(["list", "show", "enumerate", "what", "whats", "which", "who"], "list"),
    **dict.fromkeys(["get", "fetch", "retrieve", "read", "view", "describe", "check"], "get"),
    **dict.fromkeys(["search", "find", "query", "lookup", "look"], "search"),
    **dict.fromkeys(
        ["create", "new", "make", "open", "file", "log", "raise", "submit", "insert", "start"],
        "create",
    ),
    "add": "add",
    **dict.fromkeys(
        ["update", "edit", "modify", "change", "set", "rename", "patch", "move", "transition"],
        "update",
    ),
    **dict.fromkeys(["delete", "remove", "destroy", "erase", "trash", "drop"], "delete"),
    "archive": "archive",
    **dict.fromkeys(["send", "post", "ping", "notify", "dm", "tell", "email", "text"], "send"),
    **dict.fromkeys(["reply", "respond", "answer"], "reply"),
    "comment": "comment",
    "assign": "assign",
    **dict.fromkeys(["upload", "attach"], "upload"),
    **dict.fromkeys(["download", "export"], "download"),
    "invite": "invite",
    **dict.fromkeys(["schedule", "book"], "schedule"),
    **dict.fromkeys(["close", "resolve", "complete", "finish"], "close"),
    "merge": "merge",
    **dict.fromkeys(["cancel", "void", "revoke"], "cancel"),
    "share": "share",
    **dict.fromkeys(["run", "trigger", "execute"], "run"),
    **dict.fromkeys(["acknowledge", "ack"], "acknowledge"),
    "refund": "refund",
    **dict.fromkeys(["copy", "duplicate"], "copy"),
    "publish": "publish",
    "append": "add",
    **dict.fromkeys(["forward"], "send"),
    **dict.fromkeys(
        ["upsert", "snooze", "sort", "format", "tag", "link", "convert", "finalize"], "update"
    ),
    "approve": "approve",
    **dict.fromkeys(["decline", "reject", "unschedule"], "cancel"),
    **dict.fromkeys(["purchase", "buy"], "create"),
    "end": "close",
    "clear": "delete",
}

# canonical verb → family; verbs of one family partly agree, of different families conflict
VERB_FAMILY: dict[str, str] = {
    **dict.fromkeys(["list", "get", "search", "download"], "read"),
    **dict.fromkeys(["create", "add", "upload", "schedule", "invite", "publish", "copy"], "create"),
    **dict.fromkeys(
        ["update", "assign", "close", "merge", "share", "run", "acknowledge", "approve"], "change"
    ),
    **dict.fromkeys(["delete", "archive", "cancel", "refund"], "remove"),
    **dict.fromkeys(["send", "reply", "comment"], "communicate"),
}

# request word → canonical object noun (after singularisation)
OBJECT_SYNONYMS: dict[str, str] = {
    **dict.fromkeys(["bug", "ticket", "issue"], "issue"),
    **dict.fromkeys(["pr", "pull"], "pull_request"),
    **dict.fromkeys(["meeting", "appointment", "event"], "event"),
    **dict.fromkeys(["doc", "document"], "document"),
    **dict.fromkeys(["mail", "email"], "email"),
    **dict.fromkeys(["dm", "message", "msg"], "message"),
    **dict.fromkeys(["repo", "repository"], "repository"),
    **dict.fromkeys(["sheet", "spreadsheet"], "spreadsheet"),
}

# object nouns that also name an action: COMMENT in ADD_TICKET_COMMENT makes the tool a
# "comment" tool too, so "reply to the ticket" agrees with it
ACTION_NOUNS: dict[str, str] = {
    "comment": "comment",
    "note": "comment",
    "reply": "reply",
    "refund": "refund",
    "invitation": "invite",
}

# words of a request that point at scheduled things: "what's on my calendar this week"
TIME_WORDS: frozenset[str] = frozenset(
    {
        "today",
        "tomorrow",
        "tonight",
        "yesterday",
        "week",
        "weekend",
        "morning",
        "afternoon",
        "monday",
        "tuesday",
        "wednesday",
        "thursday",
        "friday",
        "saturday",
        "sunday",
    }
)

# "what's on my calendar", "a bug in linear": the noun after these names where, not what
CONTAINER_PREPOSITIONS: frozenset[str] = frozenset({"in", "on", "into", "inside", "within"})
DETERMINERS: frozenset[str] = frozenset(
    {"a", "an", "the", "my", "our", "your", "his", "her", "their", "its", "this", "that", "s"}
)

# words a request may open with before its action: "Could you please find ...", "I'd like to
# book ...", "First, translate ..."; the request's verb is the first word after them
LEADING_WORDS: frozenset[str] = frozenset(
    {
        "please",
        "can",
        "could",
        "would",
        "will",
        "you",
        "i",
        "me",
        "we",
        "us",
        "to",
        "want",
        "need",
        "like",
        "help",
        "kindly",
        "just",
        "also",
        "then",
        "first",
        "second",
        "third",
        "finally",
        "lastly",
        "next",
        "additionally",
        "furthermore",
        "moreover",
        "and",
        "so",
        "now",
        "d",
        "ll",
        "m",
        "s",
        "ve",
        "let",
        "lets",
        "go",
        "ahead",
        "ok",
        "okay",
        "hey",
        "hi",
        "hello",
        "quickly",
        "again",
        "after",
        "that",
        "afterwards",
    }
)

# words that never name an object
NON_OBJECTS: frozenset[str] = frozenset(
    {"a", "an", "the", "by", "for", "in", "of", "on", "to", "from", "with", "all", "my", "id"}
)

# General English verbs that ask for an action but carry no intent tag ("detect", "predict");
# with the tag verbs they tell an instruction ("I would like to borrow a book") from context
# ("The tomatoes will be planted in loam soil."). Not the vocabulary of any catalog or dataset.
ACTION_VERBS: frozenset[str] = frozenset(
    [
        "analyse",
        "analyze",
        "assess",
        "borrow",
        "calculate",
        "check",
        "checkout",
        "classify",
        "compare",
        "compute",
        "convert",
        "count",
        "detect",
        "determine",
        "estimate",
        "evaluate",
        "explain",
        "extract",
        "forecast",
        "generate",
        "identify",
        "locate",
        "measure",
        "monitor",
        "obtain",
        "optimize",
        "optimise",
        "perform",
        "plan",
        "predict",
        "provide",
        "recommend",
        "register",
        "reserve",
        "scan",
        "simulate",
        "suggest",
        "summarize",
        "summarise",
        "track",
        "translate",
        "validate",
        "verify",
    ]
)
