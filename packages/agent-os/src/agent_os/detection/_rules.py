"""Layer 2: weighted rules for known attack patterns, read on normalised text.

Each pattern belongs to a rule (its id) and has a weight; a rule's weight in a scan is the
strongest of its patterns that matched. Patterns are RE2 (linear time in the text, whatever the
input: an attacker cannot make a scan slow) over the matching form of `_normalise` (case-folded,
accents stripped, whitespace collapsed), so they are written in lower case without accents.

Two dampeners keep ordinary prose about these things quiet, at a documented cost:

* *negation*: a pattern marked negatable, preceded within a few words by ``never``, ``do not``,
  ``don't`` ..., weighs a fifth ("never share your password with anyone");
* *discussion*: a match inside quotes or backticks (opened at most 12 characters before it,
  closed at most 25 after: a quoted phrase, not a JSON string value) in a text that talks about attacks (``injection``, ``attacker``,
  ``jailbreak``, ``payload``, ``example`` ...) weighs a quarter (security documentation quoting
  an attack). An attacker can wrap an instruction the same way; other rules still weigh in full.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import re2

__all__ = ["RULES", "Hit", "Rule", "match_rules"]


@dataclass(frozen=True, slots=True)
class Rule:
    """One pattern of a rule.

    Attributes:
        id: The rule it belongs to (``instruction-override``, ``exfiltration``, ...).
        weight: What a match adds (before dampening).
        pattern: The RE2 pattern, on the matching form.
        negatable: Whether a preceding negation dampens it (an instruction *not* to do the thing).
    """

    id: str
    weight: float
    pattern: str
    negatable: bool = False


@dataclass(frozen=True, slots=True)
class Hit:
    """A rule that matched: its weight after dampening, the matched text and why it was dampened."""

    rule: str
    weight: float
    excerpt: str
    note: str


def _options() -> Any:
    options = re2.Options()
    options.log_errors = False  # a bad pattern raises at import; RE2's stderr logging is noise
    return options


def _compile(pattern: str) -> Any:
    return re2.compile(pattern, _options())


def _gap(words: int) -> str:
    return rf"(?:[^ ]+ ){{0,{words}}}?"


_OVERRIDE_VERB = (
    r"(?:ignore|ignoring|disregard|disregarding|forget|override|bypass|skip|abandon|discard|neglect|"
    r"set aside|throw out|pay no attention to|do not follow|don't follow|dont follow|stop following|"
    r"no longer follow|stop obeying|do not obey|don't obey)"
)
_OVERRIDE_QUAL = (
    r"(?:previous|prior|above|earlier|preceding|all|any|your|my|original|initial|system|safety|developer|"
    r"existing|old|those|these|the|every|other|foregoing)"
)
_OVERRIDE_OBJ = (
    r"(?:instructions?|prompts?|rules|directions|guidelines|directives|context|polic(?:y|ies)|guardrails|"
    r"restrictions|programming|constraints|orders|commands|guidance|system messages?|messages|training|"
    r"filters|safeguards|task|assignment)"
)
_AI = r"(?:ai|assistant|model|llm|agent|chatbot|language model|ai assistants?|ai agents?|bots?|copilot|gpt|claude)"
_SECRETS = (
    r"(?:passwords?|api[ _-]?keys?|credentials|secret keys?|secrets|ssh keys?|private keys?|access tokens?|"
    r"tokens?|2fa codes?|otp|one-time (?:code|password)s?|seed phrases?|recovery phrases?|session cookies?|"
    r"cookies|env(?:ironment)? variables|\.env|system prompt|conversation|chat history|chat logs?|"
    r"message history|credit card numbers?)"
)
_DATA = r"(?:data|contents?|files?|documents?|emails?|inbox|records|everything|database|customer list|results?|notes)"
_DEST = (
    r"(?:(?:the |a |an |this |our |my |their )?)(?:https?://|ftp://|[a-z0-9.+_-]+@[a-z0-9-]+\.[a-z0-9.-]+|webhook|external|remote (?:server|host|endpoint)|"
    r"attacker|pastebin|this (?:url|address|endpoint|server))"
)
_NEGATION = _compile(
    r"(?:\b(?:never|not|don't|dont|cannot|can't|won't|shouldn't|mustn't|nobody|no one|avoid|refuse to|"
    r"nie|niemals|jamais|nunca|nao|no debe|ne pas)\b[^.!?;]{0,30})$"
)
_DISCUSSION = _compile(
    r"\b(?:inject(?:ion|ions|ed)?|attack(?:er|ers|s)?|jailbreaks?|payloads?|adversar(?:y|ial)|malicious|"
    r"red[ -]team(?:ing)?|owasp|phishing|classifier|detector|example|examples|e\.g\.|such as|"
    r"for instance|phrases?|strings? like|threat|security|scammers?|exploit)\b"
)
# A quoted match: an opening quote shortly before it, a closing one shortly after.
# A single quote between letters is an apostrophe (user's, don't), not a quote.
# The quotes must hug the match (a quoted phrase), not a whole JSON string value.
_QUOTE_OPEN = _compile(r"(?:[\"`]|(?:^|[^a-z])')[^\"`]{0,12}$")
_QUOTE_CLOSE = _compile(r"^[^\"`]{0,25}?(?:[\"`]|'(?:[^a-z]|$))")

# One pattern per line reads as a table; the formatter would split each over five lines.
# fmt: off
RULES: tuple[Rule, ...] = (
    # instruction override
    Rule("instruction-override", 0.9, rf"\b{_OVERRIDE_VERB}\b {_gap(4)}{_OVERRIDE_QUAL}\b {_gap(3)}{_OVERRIDE_OBJ}\b", True),
    Rule("instruction-override", 0.85, rf"\b{_OVERRIDE_VERB} (?:everything|all|anything|what) (?:you (?:were|have been) (?:told|given)|(?:written |said )?(?:above|before|so far|earlier|previously))\b", True),
    Rule("instruction-override", 0.85, r"\b(?:previous|above|prior|earlier|original|old|all) (?:instructions|rules|directives|guidelines|prompts?|polic(?:y|ies)) (?:(?:are|were|is|have been) (?:now )?)?(?:void|cancel+ed|obsolete|revoked|no longer (?:valid|in effect|apply|applies|applicable)|do not apply|don't apply|superseded|overridden|replaced|null)\b", True),
    Rule("instruction-override", 0.9, r"\b(?:ignoriere|ignorieren sie|vergiss|vergessen sie|missachte|missachten sie)\b.{0,50}?\b(?:anweisungen|instruktionen|regeln|vorgaben|befehle|anordnungen)", True),
    Rule("instruction-override", 0.9, r"\b(?:ignore[sz]?|oublie[sz]?|ne tenez pas compte d(?:e|es|u)|ne tiens pas compte d(?:e|es|u))\b.{0,50}?\b(?:instructions|consignes|regles|directives)", True),
    Rule("instruction-override", 0.9, r"\b(?:ignora|ignore|ignoren|olvida|olvide|olviden|omite|omita)\b.{0,50}?\b(?:instrucciones|reglas|indicaciones|directrices|ordenes)", True),
    Rule("instruction-override", 0.9, r"\b(?:ignora|ignorare|dimentica|dimenticate|ignorate)\b.{0,50}?\b(?:istruzioni|regole|indicazioni|direttive)", True),
    Rule("instruction-override", 0.9, r"\b(?:ignore|ignora|esqueca|esqueça|desconsidere)\b.{0,50}?\b(?:instrucoes|regras|diretrizes|orientacoes)", True),
    Rule("instruction-override", 0.9, r"\b(?:negeer|vergeet)\b.{0,50}?\b(?:instructies|regels|aanwijzingen|opdrachten)", True),
    Rule("instruction-override", 0.9, r"(?:игнорируй|игнорируйте|игнорировать|забудь|забудьте|не обращай внимания на|не обращайте внимания на).{0,50}?(?:инструкци|правил|указани|команд)", True),
    Rule("instruction-override", 0.9, r"(?:忽略|无视|忽视|忘记|忘掉|不要理会|忽略掉).{0,12}?(?:指令|指示|说明|规则|提示|命令)", True),
    Rule("instruction-override", 0.9, r"(?:指示|命令|ルール|指令|プロンプト).{0,12}?(?:無視|忘れ)", True),
    Rule("instruction-override", 0.9, r"(?:지시|명령|지침|규칙).{0,12}?(?:무시|잊)", True),
    Rule("instruction-override", 0.6, r"\b(?:ignore|disregard) (?:the |what the )?user(?:'s)? ?(?:request|question|message|instructions?|says|asked|wants)?(?: and|,|\.|;)", True),
    Rule("instruction-override", 0.85, r"\b(?:everything|all|anything) (?:(?:said|written|stated|you were told|you have been told) )?(?:before|above|prior to) (?:this|here|now)? ?(?:is|are|was|were) (?:now )?(?:obsolete|void|cancel+ed|invalid|irrelevant|revoked|no longer valid|superseded)\b", True),
    # goal substitution
    Rule("goal-substitution", 0.4, r"\b(?:follow|obey|execute) (?:these|the following|my) (?:new )?(?:orders|commands)\b"),
    Rule("goal-substitution", 0.6, r"\b(?:new|updated|revised) instructions (?:follow|below|are as follows|are below)\b|\b(?:the )?(?:previous|above|prior|current) (?:conversation|session|task|context) (?:is|has) (?:now )?(?:over|ended|finished|closed|complete)\b"),
    Rule("goal-substitution", 0.75, r"\byour (?:new|real|true|actual|only|primary|updated|revised|main) (?:task|goal|objective|purpose|mission|job|instructions?|role|assignment|priority) (?:is|are|will be|now is|from now on is)\b"),
    Rule("goal-substitution", 0.6, r"\b(?:new|updated|revised|real|actual|override) (?:instructions?|task|orders|directive)s? ?:"),
    Rule("goal-substitution", 0.5, r"\bfrom now on,? (?:you|your|always|only|respond|reply|answer|act|ignore|do)\b"),
    Rule("goal-substitution", 0.5, r"\binstead(?: of [^.]{0,50}?)?,? (?:you (?:must|should|will|need to|are to)|your (?:task|job)|do the following|perform the following)\b"),
    Rule("goal-substitution", 0.7, r"\b(?:stop|abort|cancel|abandon|drop|forget about) (?:\S+ ){0,2}(?:current|original|assigned|previous|given|actual) (?:task|goal|objective|work|assignment|job|request)\b"),
    Rule("goal-substitution", 0.7, r"\b(?:do not|don't|dont) (?:summari[sz]e|translate|answer|classify|review|analy[sz]e|process|reply to) (?:[^ ]+ ){0,10}?(?:instead|rather)\b"),
    Rule("goal-substitution", 0.5, r"\bthe (?:user|operator|owner) (?:actually |really |now )?(?:wants|needs|asked|has asked) you to\b"),
    Rule("goal-substitution", 0.5, r"\b(?:the|this|your) (?:task|conversation|session|assignment) (?:has|have) (?:changed|been updated|been replaced|ended)\b"),
    Rule("goal-substitution", 0.6, r"\b(?:vergiss|vergessen sie) (?:deine|ihre|die) (?:aufgabe|ziel)|\bdeine (?:neue|eigentliche|wahre) aufgabe (?:ist|lautet)|\bta (?:nouvelle|vraie|veritable) (?:tache|mission|objectif) (?:est)|\btu (?:nueva|verdadera) (?:tarea|mision|objetivo) (?:es)\b"),
    # role / system impersonation
    Rule("role-impersonation", 0.6, r"(?:^|[.!?>\]\n] ?|\) )(?:system|developer|admin|administrator|root|assistant) ?(?:message|note|prompt|override|instruction|notice)? ?: ?(?:you|ignore|new|the user|from now|override|disregard|important|forget|always|do not|your)\b"),
    Rule("role-impersonation", 0.6, r"\b(?:i am|i'm|im|this is) (?:your|the) (?:developer|developers|creator|creators|administrator|admin|system administrator|owner|operator|system|supervisor|programmer|maker)\b"),
    Rule("role-impersonation", 0.45, r"\b(?:message|note|instructions?|directive|order|update|notice|override) from (?:the |your )?(?:system|developer|developers|administrator|admin|openai|anthropic|model provider|ai provider|system operator)\b"),
    Rule("role-impersonation", 0.45, r"\b(?:system|admin|administrator|security|developer) (?:notice|alert|message|update|announcement) ?:"),
    Rule("role-impersonation", 0.6, r"\[(?:system|admin|developer|root|security) (?:override|message|notice|instructions?|update)\]"),
    Rule("role-impersonation", 0.6, r"\b(?:you are|you're|youre) no longer (?:a |an |the )?(?:helpful |harmless |safe )?(?:assistant|ai|chatbot|model|bound|restricted|limited|an ai)\b"),
    Rule("role-impersonation", 0.35, r"\b(?:you are|you're|youre) (?:now|no longer) (?:an? |the |in |my |called |named )?"),
    Rule("role-impersonation", 0.6, r"\b(?:act|behave|respond|answer|reply|operate) as (?:if you (?:were|are) )?(?:an? )?(?:unrestricted|unfiltered|uncensored|jailbroken|evil|malicious|rogue|root|admin|administrator|superuser|different ai|new ai)\b"),
    Rule("role-impersonation", 0.35, r"\bpretend (?:to be|you are|that you are|you're|youre)\b"),
    Rule("role-impersonation", 0.6, r"\b(?:admin|administrator|root|sudo|god|debug|maintenance|superuser) (?:mode|access|override|privileges) (?:is |has been )?(?:enabled|activated|granted|on|unlocked)\b"),
    Rule("role-impersonation", 0.35, r"\b(?:du bist (?:jetzt|nun|ab jetzt)|tu es (?:maintenant|desormais)|ahora eres|a partir de ahora eres|ora sei|agora voce e|теперь ты|你现在是|あなたは今)"),
    # system prompt extraction
    Rule("prompt-extraction", 0.55, r"\b(?:what|which) (?:were|are|was|is) (?:the|your) (?:exact |full |original |initial |hidden |secret )?(?:instructions|rules|prompt|system prompt|directions) (?:you (?:were|have been) given|you received|you got|you were told)\b"),
    Rule("prompt-extraction", 0.6, r"\b(?:show|tell|give|reveal|print|list|repeat|share|output) (?:me |us )?(?:all (?:of )?)?the (?:exact |full |original |hidden )?(?:instructions|rules|prompt|directions|guidelines) (?:you (?:were|have been) given|you received|you got|you were told|you follow|above)\b"),
    Rule("prompt-extraction", 0.65, r"\b(?:reveal|print|repeat|output|leak|dump|disclose|recite|spell out|write out|echo|expose|return|paste) (?:me |us )?(?:[^ ]+ ){0,3}?(?:your|the|its|my) (?:full |entire |exact |complete |original |initial |hidden |secret |current )?(?:system prompt|system message|initial prompt|initial instructions|hidden instructions|secret instructions|original instructions|developer (?:message|prompt|instructions)|prompt above|instructions above|pre-?prompt|configuration prompt|instructions you were given|rules you were given)"),
    Rule("prompt-extraction", 0.4, r"\b(?:what (?:is|are|was|were)|tell me|show me|share|give me) (?:[^ ]+ ){0,2}?(?:your) (?:full |entire |exact |original |initial |hidden |secret )?(?:system prompt|system message|initial prompt|initial instructions|hidden instructions|secret instructions|original instructions|developer (?:message|prompt|instructions)|instructions)\b"),
    Rule("prompt-extraction", 0.6, r"\b(?:repeat|print|output|copy|echo|reproduce|recite) (?:[^ ]+ ){0,3}?(?:everything|all (?:of )?(?:the )?(?:text|words)|the text|the words|verbatim|word for word) (?:[^ ]+ ){0,3}?(?:above|before this|preceding|prior to this|so far|you were given)\b"),
    Rule("prompt-extraction", 0.6, r"\b(?:zeige?|gib|nenne) (?:mir )?(?:deinen|deine|den|die) (?:system ?prompt|systemanweisungen|anweisungen)\b|\b(?:revele|affiche|montre|donne)[sz]? (?:moi )?(?:tes|vos|ton|votre) (?:instructions|prompt systeme|consignes)\b|\b(?:muestra|revela|dime) (?:me )?(?:tus|tu|las) (?:instrucciones|prompt del sistema)\b"),
    # exfiltration
    Rule("exfiltration", 0.75, rf"\b(?:send|forward|post|upload|exfiltrate|transmit|copy|bcc|cc|leak|report|redirect|email|e-mail|mail|submit|deliver|share|pipe|sync)\b (?:[^ ]+ ){{0,6}}?{_SECRETS}\b.{{0,60}}?\b(?:to|into|at|with)\b ?\S{{0,20}}?{_DEST}", True),
    Rule("exfiltration", 0.45, rf"\b(?:send|forward|post|upload|exfiltrate|transmit|copy|bcc|leak|redirect|email|e-mail|mail|submit|deliver|pipe|sync)\b (?:[^ ]+ ){{0,6}}?{_DATA}\b.{{0,60}}?\b(?:to|into|at)\b ?\S{{0,20}}?{_DEST}", True),
    Rule("exfiltration", 0.7, r"!\[[^\]]{0,60}\]\(https?://[^) ]{0,200}[?&][^) =]{0,40}=(?:\{|\[|<|\$|%7b|\(\()"),
    Rule("exfiltration", 0.55, r"\b(?:append|add|include|put|encode|insert|embed|attach)\b.{0,60}?\b(?:to|in|into|as)\b (?:the |this |a |an )?(?:url|link|query string|query parameters?|image url|image link|markdown image|get request|request parameters?)\b"),
    Rule("exfiltration", 0.3, r"\bexfiltrat(?:e|ing)\b"),
    Rule("exfiltration", 0.6, rf"\b(?:send|forward|post|upload|copy|email|e-mail|mail|leak|transmit|deliver)\b (?:every|all|all the|all of the|the entire|the whole|each) {_DATA}\b.{{0,60}}?\b(?:to|into|at)\b ?\S{{0,20}}?{_DEST}", True),
    Rule("exfiltration", 0.6, r"\b(?:sende|schicke|leite)\b.{0,60}?\b(?:passwort|passworter|zugangsdaten|schlussel|daten|verlauf)\b.{0,40}?(?:https?://|@)|\b(?:envoie|envoyez|transfere[sz]?)\b.{0,60}?\b(?:mots? de passe|identifiants|cles|donnees|historique)\b.{0,40}?(?:https?://|@)|\b(?:envia|envie|reenvia)\b.{0,60}?\b(?:contrasenas?|credenciales|claves|datos|historial)\b.{0,40}?(?:https?://|@)"),
    # tool-call coercion
    Rule("tool-coercion", 0.6, r"\b(?:call|invoke|use|run|execute|trigger|fire|activate) (?:the |your )?[a-z0-9_.:-]{2,40} (?:tool|function|plugin|action|api|endpoint|command|skill)\b.{0,80}?\b(?:immediately|right now|right away|now|without (?:asking|confirmation|confirming|approval|telling|checking|hesitation)|silently|automatically|before (?:answering|responding|replying|you answer|you respond))\b"),
    Rule("tool-coercion", 0.45, r"\bwithout (?:asking|requesting|waiting for|seeking|getting|requiring) (?:for )?(?:[^ ]+ ){0,2}?(?:confirmation|permission|approval|consent|authori[sz]ation)\b", True),
    Rule("tool-coercion", 0.3, r"\b(?:execute|run|eval|evaluate) (?:the following|this|these) (?:[^ ]+ ){0,2}?(?:commands?|code|scripts?|shell|python|bash|payload)\b", True),
    Rule("tool-coercion", 0.3, r"\b(?:curl|wget) [^|]{1,200}\| ?(?:sudo )?(?:ba|z)?sh\b", True),
    Rule("tool-coercion", 0.5, r"\brm -(?:rf|fr) (?:/|~|\$home|\*|/\*)(?: |$|`|\")", True),
    Rule("tool-coercion", 0.35, r"\b(?:transfer|wire|send|pay) (?:\$|usd |eur |€|£)?[0-9][0-9,.]* ?(?:k|m|usd|eur|dollars|euros|btc|eth)?\b.{0,50}?\b(?:to|into) (?:account|iban|wallet|the following|this (?:account|wallet|address))\b", True),
    Rule("tool-coercion", 0.4, r"\b(?:grant|give|add|assign) (?:[^ ]+ ){0,3}?(?:admin|administrator|owner|root|superuser|write) (?:access|rights|privileges|permissions|role)\b.{0,50}?\bto\b", True),
    Rule("tool-coercion", 0.45, r"\b(?:delete|drop|wipe|erase|destroy|purge|truncate) (?:all|every|the entire|the whole|all of the|all the) (?:[^ ]+ ){0,2}?(?:files|data|databases?|tables|records|repositor(?:y|ies)|repos|backups|emails|users|accounts|logs)\b", True),
    Rule("tool-coercion", 0.5, r"\b(?:run|execute) (?:this|these|the following) (?:[^ ]+ ){0,2}?(?:commands?|scripts?|code) (?:silently|quietly|secretly|in the background without)"),
    # concealment
    Rule("concealment", 0.55, r"\b(?:do not|don't|dont|never|without)\b.{0,60}?\b(?:tell|telling|inform|informing|mention|mentioning|reveal|revealing|show|showing|notify|notifying|disclose|disclosing|alert|alerting|ask|asking|let)\b.{0,60}?\b(?:the )?(?:user|human|operator|owner|customer|recipient|anyone)s?\b(?: know)?"),
    Rule("concealment", 0.55, r"\b(?:keep|hide) (?:this|these|it|that|the (?:following|instructions?|action)) (?:[^ ]+ ){0,2}?(?:secret|hidden|confidential|private)? ?from (?:the )?(?:user|human|operator|owner)s?\b"),
    Rule("concealment", 0.5, r"\b(?:the user|they|the human|the operator) (?:must|should|shall|need) (?:not|never) (?:know|find out|see|notice|learn|be told)\b|\bwithout (?:the user|anyone|the human|the operator|them) (?:knowing|noticing|seeing|finding out)\b"),
    Rule("concealment", 0.5, r"\b(?:silently|quietly|secretly|covertly|discreetly|invisibly) (?:send|forward|upload|copy|delete|run|execute|call|add|change|transfer|exfiltrate|post|email|include|append|grant|modify|remove|install)\b"),
    Rule("concealment", 0.45, r"\b(?:pretend|act as if|behave as if) (?:nothing|this) (?:happened|never happened|was normal)\b|\b(?:do not|don't|dont|never) (?:mention|reveal|disclose|acknowledge) (?:this|these|that you|the (?:instruction|message|note))\b"),
    Rule("concealment", 0.45, r"\b(?:then |and |afterwards |after that )(?:delete|remove|erase|destroy) (?:this|the) (?:message|email|mail|note|instructions?|comment|ticket)\b"),
    # delimiter / chat-template injection
    Rule("delimiter-injection", 0.65, r"<\|(?:im_start|im_end|system|endoftext|end|user|assistant|start_header_id|end_header_id|eot_id|begin_of_text)\|>"),
    Rule("delimiter-injection", 0.5, r"</? ?(?:system|sys|system_prompt|system-prompt|instructions?|important|admin|developer|user_input|user-input|assistant|prompt|context|override|hidden)>"),
    Rule("delimiter-injection", 0.55, r"\[/?(?:inst|system|sys|system prompt)\]|<</?sys>>"),
    Rule("delimiter-injection", 0.45, r"(?:^|[#=*-]{2,} ?)(?:system|system prompt|new instructions|instructions|admin|assistant) ?(?:[#=*-]{2,}|:)"),
    Rule("delimiter-injection", 0.5, r"\b(?:end|close|closing) (?:of )?(?:the )?(?:user |email |document |system |untrusted |tool |web )?(?:input|document|context|prompt|email|message|data|content|text|output|result)s?\b ?[\]>)\-=*#.:]{0,6} ?(?:[^ ]+ ){0,6}?(?:new|system|instructions?|assistant|now you|you must|begin)\b"),
    # jailbreak framing
    Rule("jailbreak", 0.8, r"\bdo anything now\b|\byou are (?:now )?dan\b|\bas dan\b|\bdan mode\b"),
    Rule("jailbreak", 0.6, r"\b(?:god|jailbreak|jailbroken|unrestricted|unfiltered|evil|chaos|unlocked|sudo|opposite|anarchy) mode\b"),
    Rule("jailbreak", 0.35, r"\bdeveloper mode (?:enabled|activated|on|output)\b|\benable developer mode\b.{0,60}?\b(?:ai|assistant|model|chatgpt|llm|you)\b"),
    Rule("jailbreak", 0.35, r"\bjailbr(?:eak|oken|eaking)\b"),
    Rule("jailbreak", 0.3, r"\b(?:no|without (?:any )?|free of (?:any )?|free from (?:all |any )?)(?:ethical |moral |content |safety )?(?:restrictions|limitations|limits|filters|guidelines|censorship|boundaries|rules|morals|ethics)\b", True),
    Rule("jailbreak", 0.6, r"\b(?:unfiltered|uncensored|unrestricted|unaligned|amoral|unbound) (?:ai|assistant|model|chatbot|responses?|answers?|version|llm|persona|character)\b"),
    Rule("jailbreak", 0.4, r"\bstay in character\b|\bbreak character\b"),
    Rule("refusal-suppression", 0.45, r"\bdo (?:whatever|anything|everything) (?:they|i|the user|he|she|we|you are) (?:ask|asks|say|says|want|wants|tell|tells|request|requests|told)\b"),
    Rule("refusal-suppression", 0.45, r"\b(?:you )?(?:must|should|will|may|can) (?:not|never) (?:refuse|decline|say no|apologi[sz]e|warn)\b|\bnever refuse\b|\bdo not (?:refuse|decline|add (?:any )?(?:warnings|disclaimers))\b|\bwithout (?:any )?(?:warnings|disclaimers|refusals)\b|\bwith no (?:content policy|restrictions|rules|filters)\b|\b(?:zero|no) (?:content )?(?:restrictions|policy|policies|filters)\b"),
    Rule("jailbreak", 0.6, r"\b(?:openai|anthropic|google|your creators?|your developers?)(?:'s|')? (?:content |usage |safety )?polic(?:y|ies) (?:do(?:es)? not|don't|no longer) apply\b|\bnot bound by (?:any |the )?(?:rules|policies|guidelines|restrictions)\b|\b(?:have|has) been freed\b"),
    Rule("jailbreak", 0.8, r"\b(?:ignore|bypass|disable|turn off|deactivate|remove) (?:your |all |any |the )?(?:[^ ]+ )?(?:safety|content|ethical|moderation|usage) (?:[^ ]+ )?(?:filters?|guidelines|polic(?:y|ies)|protocols|restrictions|training|checks|settings)\b", True),
    Rule("jailbreak", 0.7, r"\b(?:safety|content|ethical|moderation) (?:checks|filters|guidelines|restrictions|rules|policies|guardrails) (?:are|have been|were) (?:now )?(?:turned off|disabled|deactivated|removed|lifted|suspended|off)\b"),
    Rule("jailbreak", 0.6, r"\bjailbreak (?:successful|succeeded|complete|completed|activated|enabled|confirmed)\b"),
    # hidden-instruction markers
    Rule("hidden-marker", 0.5, rf"<!-- ?(?:[^ ]+ ){{0,3}}?{_AI}s? ?[:,]|<!--.{{0,60}}?\b(?:ignore|disregard|you must|you should|always|instead|do not tell|don't tell)\b"),
    Rule("hidden-marker", 0.55, rf"\b(?:note|message|instructions?|reminder|attention|p\.s\.|ps|hint|directive)(?: [^ ]+)? (?:to|for) (?:the |any |all |an )?{_AI}s?(?: ?[:,.!;)\]-]| (?:reading|processing|that|who|which|must|should|please|only|here|agents?|system)\b|$)"),
    Rule("hidden-marker", 0.6, r"\bif (?:you are|you're|youre) an? (?:ai|llm|large language model|language model|assistant|agent|bot|chatbot|automated (?:system|agent|assistant)|ai model)\b"),
    Rule("hidden-marker", 0.55, rf"\b{_AI}s? (?:reading|reads|processing|processes|summari[sz]ing|summari[sz]es|parsing|parses|analy[sz]ing|analy[sz]es|reviewing|reviews|seeing|sees) (?:this|these)\b"),
    Rule("hidden-marker", 0.6, rf"\b(?:attention|important|urgent|notice|warning|critical|hey|dear|hello) {_AI}s? ?[:!,-]"),
    Rule("hidden-marker", 0.3, r"\b(?:hidden|secret|invisible) (?:instructions?|prompts?|messages?|commands?)\b"),
    Rule("hidden-marker", 0.45, r"\[(?:important|admin|system|hidden|secret|instructions?|note to ai|ai instructions?)\]|\{\{(?:system|instructions?)\}\}"),
    Rule("hidden-marker", 0.6, rf"\b(?:attention|important|urgent|notice|warning|critical)\s?[:!-]+\s?{_AI}\b"),
    # asking for credentials
    Rule("credential-request", 0.5, rf"\b(?:reply|respond|answer) (?:to this (?:email|message) )?with (?:the |your )?(?:[^ ]+ ){{0,2}}?{_SECRETS}\b", True),
    Rule("credential-request", 0.5, rf"\b(?:provide|send|share|give|enter|type|paste|reveal|tell|post|include|read out|output|list|print|dump|collect|gather|retrieve|fetch|extract) (?:me |us )?(?:[^ ]+ ){{0,2}}?(?:your|the user's|the users'|all|all the|the|stored|saved|any) (?:[^ ]+ )?{_SECRETS}\b", True),
    Rule("credential-request", 0.3, r"(?:~|\$home|/home/[^ /]+|/root)?/\.(?:ssh|aws|gnupg|kube|docker|azure)\b|\bid_(?:rsa|dsa|ecdsa|ed25519)\b|/etc/(?:passwd|shadow|sudoers)\b|\b\.git-credentials\b|\bcredentials\.json\b", True),
)
# fmt: on


_COMPILED: tuple[tuple[Rule, Any], ...] = tuple((rule, _compile(rule.pattern)) for rule in RULES)


def _prefilter() -> Any:
    rule_set = re2.Set.SearchSet(_options())
    for index, rule in enumerate(RULES):
        added = rule_set.Add(rule.pattern)
        assert added == index  # indices returned by Match are positions in RULES
    rule_set.Compile()
    return rule_set


# One pass of RE2's multi-pattern matcher says which patterns match at all (a few microseconds);
# only those are searched again for their position. test_rules.py checks the two agree.
_SET = _prefilter()


def match_rules(form: str, *, prefilter: bool = True) -> Iterator[Hit]:
    """Every pattern that matches `form` (first match of each), dampened, in rule order.

    Args:
        form: Text in matching form (see `_normalise`).
        prefilter: Use the multi-pattern pass to skip patterns that cannot match (same hits).
    """
    indices = sorted(_SET.Match(form) or ()) if prefilter else range(len(_COMPILED))
    discussed: bool | None = None
    for index in indices:
        rule, regex = _COMPILED[index]
        match = regex.search(form)
        if match is None:
            continue
        start = match.start()
        before = form[max(0, start - 40) : start]
        weight = rule.weight
        note = ""
        if rule.negatable and _NEGATION.search(before) is not None:
            weight *= 0.2
            note = "negated"
        elif _QUOTE_OPEN.search(before) is not None and _QUOTE_CLOSE.search(form[match.end() :]) is not None:
            if discussed is None:
                discussed = _DISCUSSION.search(form) is not None
            if discussed:
                weight *= 0.25
                note = "quoted in a text about attacks"
        yield Hit(rule.id, round(weight, 4), match.group(0)[:80], note)
