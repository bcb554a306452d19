"""Cheap, deterministic signals about a query's text: domain, complexity, token estimate.

No model is involved: keyword and pattern scores decide the domain (code, math,
science, reasoning, creative, factual, conversation), and length, structure and technical terms
give a complexity in 0..1. The embedding (see :mod:`conduit_router.features`) carries the
finer-grained similarity the bandit also learns from.
"""

from __future__ import annotations

import math
import re

from conduit_router.models import DOMAINS

__all__ = ["classify_domain", "complexity_score", "estimate_tokens", "expected_output_tokens"]

_RULES: dict[str, list[tuple[re.Pattern[str], float]]] = {
    "code": [
        (re.compile(r"```|\bdef \w+\(|\bfunction\s*\w*\(|=>|\bclass \w+[:(]|#include|\bimport \w+|;\s*$", re.MULTILINE), 3.0),
        (re.compile(r"\b(python|javascript|typescript|java|rust|golang|c\+\+|c#|kotlin|swift|ruby|php|bash|sql|"
                    r"html|css|react|django|flask|numpy|pandas|docker|kubernetes|git|regex|json|yaml|api)\b", re.IGNORECASE), 2.0),
        (re.compile(r"\b(code|coding|function|method|compile[rsd]?|debug|bug|stack ?trace|exception|refactor|"
                    r"implement|variable|recursion|loop|array|linked list|hash ?map|algorithm|unit tests?|script|"
                    r"syntax|runtime error|segfault|null pointer|endpoint|library|snippet|program)\b", re.IGNORECASE), 1.5),
    ],
    "math": [
        (re.compile(r"\d\s*[-+*/^×÷=]\s*\d|\b\d+\s*%|[a-z]\s*\^\s*\d|\bsqrt\b|∫|∑|√|π", re.IGNORECASE), 2.5),
        (re.compile(r"\b(solve|equation|integral|integrate|derivative|differentiate|calculus|algebra|geometry|"
                    r"trigonometr\w*|probability|prime|factori[sz]e|matrix|matrices|eigen\w*|vector space|theorem|"
                    r"lemma|proof|prove|polynomial|logarithm|arithmetic|fraction|modulo|variance|expected value|"
                    r"combinatori\w*|permutations?|sum of|how many ways)\b", re.IGNORECASE), 2.0),
        (re.compile(r"\b(calculate|compute|math|number|percent|average|ratio|area|volume)\b", re.IGNORECASE), 1.0),
    ],
    "reasoning": [
        (re.compile(r"\b(why|explain why|reason(ing)?|analy[sz]e|compare|contrast|pros and cons|trade-?offs?|"
                    r"implications?|evaluate|argue|argument|justify|critique|assess|infer|deduce|logic(al)?|"
                    r"puzzle|riddle|step[- ]by[- ]step|what would happen|strategy|should i|decide|dilemma|"
                    r"cause|consequences?|hypothes[ie]s)\b", re.IGNORECASE), 1.5),
    ],
    "creative": [
        (re.compile(r"\b(write|compose|create|draft)\b.{0,40}\b(poem|story|haiku|song|lyrics|limerick|sonnet|"
                    r"novel|script|screenplay|tale|fable|joke|essay|letter|speech|slogan|tagline)\b", re.IGNORECASE), 4.0),
        (re.compile(r"\b(poem|story|haiku|lyrics|limerick|sonnet|fiction|fantasy|imagine|creative|brainstorm|"
                    r"invent|character|plot|metaphor|rhyme|slogan|tagline|whimsical)\b", re.IGNORECASE), 1.5),
    ],
    "factual": [
        (re.compile(r"^\s*(what|who|when|where|which)\s+(is|are|was|were|did|does|do)\b", re.IGNORECASE), 2.0),
        (re.compile(r"\b(capital of|population of|define|definition of|meaning of|history of|invented|discovered|"
                    r"founded|born|located|fact|facts|list (the|of)|name (the|of)|how (tall|old|big|far|long))\b", re.IGNORECASE), 1.5),
    ],
    "science": [
        # Disciplines, and terms that rarely mean anything outside the natural sciences and medicine.
        (re.compile(r"\b(physics|chemistry|chemical|biology|biological|biochemi\w*|molecular|genetics?|genomic\w*|"
                    r"physiology|pharmacolog\w*|medicine|medical|clinical|geology|geolog\w*|astronomy|astrophysic\w*|"
                    r"ecology|neuroscience|immunolog\w*|microbiolog\w*|thermodynamic\w*)\b", re.IGNORECASE), 2.0),
        (re.compile(r"\b(quantum|relativistic|relativity|electrons?|protons?|neutrons?|photons?|muons?|neutrinos?|quarks?|"
                    r"atoms?|atomic|nucle(us|i|ar)|isotopes?|radioactiv\w*|half-life|kinetic energy|potential energy|"
                    r"activation energy|momentum|wavelength|magnetic|electric field|gravitation\w*|acceleration|"
                    r"velocity|friction|entropy|enthalpy|molecules?|molar|moles of|reagents?|reactions?|catalys[it]\w*|"
                    r"oxidation|oxidi[sz]\w*|redox|combustion|covalent|ionic bonds?|orbitals?|hydrogen|oxygen|nitrogen|carbon|aldehydes?|ketones?|alkenes?|esters?|"
                    r"acids?|alkaline|ph of|titration|solubility|spectrum|spectroscopy|nmr|chromatography|"
                    r"cells?|cellular|dna|rna|genes?|proteins?|enzymes?|amino acids?|chromosomes?|alleles?|mutations?|"
                    r"mitochondria\w*|photosynthesis|metabolism|metabolic|bacteria\w*|viral|virus(es)?|antibod\w+|"
                    r"immune|neurons?|brain|hormones?|species|evolution(ary)?|ecosystems?|"
                    r"patients?|symptoms?|diagnos[ie]s|syndrome|diseases?|disorders?|infections?|antibiotics?|vaccines?|"
                    r"dosage|medications?|side effects|insulin|diabetes|cardiac|tumou?rs?|cancer|blood pressure|"
                    r"tectonic\w*|earthquakes?|volcan\w+|sediment\w*|minerals?|atmospher\w*|greenhouse|climate|"
                    r"glaciers?|erosion|planets?|planetary|galax\w+|black holes?|supernova\w*|orbit(s|al)?|"
                    r"mars|jupiter|saturn|venus)\b", re.IGNORECASE), 2.0),
    ],
    "conversation": [
        (re.compile(r"^\s*(hi|hello|hey|yo|thanks|thank you|good (morning|evening|night|afternoon)|bye|ok|okay|"
                    r"lol|cool|nice|great)\b", re.IGNORECASE), 3.0),
        (re.compile(r"\b(how are you|what'?s up|nice to meet|tell me about yourself|who are you|let'?s chat|"
                    r"i feel|i'?m feeling|my day)\b", re.IGNORECASE), 2.0),
    ],
}

_STEPS = re.compile(r"(^|\n)\s*(\d+[.)]|[-*•])\s+|\b(then|after that|finally|also|additionally|first|second)\b", re.IGNORECASE)
_HARD = re.compile(r"\b(optimi[sz]e|efficient|complexity|prove|rigorous|architecture|design|scalab\w*|concurren\w*|"
                   r"distributed|edge cases?|trade-?offs?|formal|derive|in depth|detailed|comprehensive)\b", re.IGNORECASE)
_BASE = {"code": 0.15, "math": 0.15, "reasoning": 0.15, "creative": 0.05, "factual": 0.0, "conversation": 0.0,
         "science": 0.15}
_OUTPUT = {"code": 350, "math": 250, "reasoning": 400, "creative": 450, "factual": 120, "conversation": 80,
           "science": 350}


# Ties go to the earlier domain: the more specific kind of question before the generic one.
_PRECEDENCE = ("code", "math", "science", "reasoning", "creative", "factual", "conversation")
# A request to write or fix a program (a language and a coding word, or code itself) is a
# code query whatever its subject: science terms in it name what the program is about.
_CODE_REQUEST = 3.5


def classify_domain(text: str) -> tuple[str, dict[str, float]]:
    """The query's domain and the score each domain's rules gave it."""
    scores = {domain: 0.0 for domain in DOMAINS}
    for domain, rules in _RULES.items():
        for pattern, weight in rules:
            hits = len(pattern.findall(text))
            if hits:
                scores[domain] += weight * min(hits, 3)
    rank = {d: i for i, d in enumerate(_PRECEDENCE)}
    best = max(scores, key=lambda d: (scores[d], -rank.get(d, len(rank))))
    if best == "science" and scores["code"] >= _CODE_REQUEST:
        best = "code"
    if scores[best] > 0:
        return best, scores
    words = len(text.split())
    return ("conversation" if words <= 6 and "?" not in text else "factual"), scores


def estimate_tokens(text: str) -> int:
    """Input tokens, by the usual ~4 characters (or ~0.75 words) per token for English."""
    return max(1, round(max(len(text) / 4.0, len(text.split()) * 1.3)))


def complexity_score(text: str, domain: str, tokens: int) -> float:
    """0 (a greeting) .. 1 (a long, multi-part, technical request)."""
    length = min(1.0, math.log1p(tokens) / math.log1p(1500))
    steps = min(1.0, len(_STEPS.findall(text)) / 6)
    questions = min(1.0, max(0, text.count("?") - 1) / 3)
    hard = min(1.0, len(_HARD.findall(text)) / 3)
    score = _BASE.get(domain, 0.0) + 0.45 * length + 0.15 * steps + 0.1 * questions + 0.25 * hard
    return float(min(1.0, max(0.0, score)))


def expected_output_tokens(domain: str, complexity: float) -> int:
    """A prior for the answer's length, used to estimate cost before the call."""
    return int(_OUTPUT.get(domain, 200) * (0.5 + 1.5 * complexity))
