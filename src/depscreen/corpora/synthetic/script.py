"""The interview script: Ellie's questions (`TOPICS`, each tied to the PHQ-8 item its answers
reflect), the participants' positive and negative answers and add-ons, the fixed lines of
the introduction and closing, the set-up and interruption chatter, the transcript tokens a
reader must clean away (`clean_text`), and the order the topics are asked in.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from depscreen.corpora.synthetic.config import SynthConfig
from depscreen.corpora.synthetic.plan import _S_TOPICS, _rng


@dataclass(frozen=True)
class Topic:
    """An interviewer question, the PHQ-8 item its answers reflect (None = overall mood), answers."""

    key: str
    question: str
    item: str | None
    positive: tuple[str, ...]
    negative: tuple[str, ...]


TOPICS: tuple[Topic, ...] = (
    Topic("how_are_you", "so how are you doing today", "Depressed",
          ("i'm doing good thanks", "pretty good", "i'm doing well", "i'm okay it's been a good day so far",
           "good i'm in a pretty good mood today"),
          ("honestly not that great", "i'm okay i guess a little down", "not too good to be honest",
           "i've been better", "kind of tired and down today")),
    Topic("origin", "where are you from originally", None,
          ("i'm from {city}", "i grew up in {city}", "originally from {city} but i've been here a long time",
           "{city} and i still love going back"),
          ("i'm from {city} but i don't really feel at home anywhere",
           "{city} but i don't talk to anybody from there anymore",
           "i grew up in {city} it was kind of a hard place to grow up")),
    Topic("living", "how do you like your living situation", None,
          ("it's nice i live with my roommate and we get along", "i like it a lot it's quiet and close to work",
           "it's good i finally have my own place"),
          ("not great i mostly stay in my room", "it's okay but i feel alone there most of the time",
           "it's hard i can barely pay the rent and it stresses me out")),
    Topic("sleep", "how easy is it for you to get a good night's sleep", "Sleep",
          ("pretty easy i usually fall asleep right away", "it's easy i sleep like a baby",
           "no problem i get about eight hours", "pretty easy as long as i skip coffee at night"),
          ("it's really hard i wake up in the middle of the night", "not easy at all i lie awake for hours",
           "i can't sleep my mind keeps racing", "hard i only get like four hours a night",
           "i sleep way too much and i still feel tired")),
    Topic("no_sleep", "what are you like when you don't sleep well", "Tired",
          ("i'm a little grumpy but i'm fine after some coffee", "i'm okay i just take a nap",
           "i don't really notice it much"),
          ("i'm exhausted all day and i can't do anything", "i feel drained and irritable",
           "i have no energy at all i just want to lie down", "i'm tired all the time anyway")),
    Topic("happy", "when was the last time you felt really happy", "NoInterest",
          ("last weekend when i went {activity}", "just yesterday i had a great time with {relative}",
           "pretty recently at my friend's birthday party", "i feel happy most days honestly"),
          ("i honestly can't remember", "it's been a long time", "i don't know maybe a few years ago",
           "i don't really feel happy anymore", "nothing really makes me happy these days")),
    Topic("lately", "how have you been feeling lately", "Depressed",
          ("pretty good actually", "i've been feeling great", "good things are going well at work",
           "i've been feeling pretty relaxed"),
          ("i've been feeling really down", "kind of depressed to be honest",
           "not good i feel sad most of the time", "i feel hopeless a lot lately", "empty i guess")),
    Topic("proud", "what are you most proud of in your life", "Failure",
          ("i'm proud of my kids", "finishing school i worked really hard for it",
           "i'm proud that i became {job}", "my family and the person i've become"),
          ("i don't know i can't think of anything", "not much i feel like i've let everyone down",
           "nothing really i feel like a failure", "i used to be proud of my work but not anymore")),
    Topic("travel", "do you travel a lot", "NoInterest",
          ("yeah i love to travel i went to {place} last year", "i try to travel when i can",
           "sometimes i'm planning a trip to {place}"),
          ("no i don't have the energy for it anymore", "not really i don't feel like going anywhere",
           "no i don't enjoy it like i used to")),
    Topic("family", "tell me about your relationship with your family", "Depressed",
          ("we're really close i talk to {relative} every day", "it's good we get together every sunday",
           "pretty good we support each other"),
          ("it's not great we don't really talk", "it's complicated i feel like a burden to them",
           "i'm not close to them i feel pretty alone", "we fight a lot and it gets me down")),
    Topic("enjoy", "what are some things you really enjoy doing", "NoInterest",
          ("i love {activity}", "{activity} and spending time with friends",
           "i really enjoy {activity} on the weekends"),
          ("i used to like {activity} but i don't enjoy it anymore", "nothing really interests me these days",
           "i don't know i just stay home", "i can't really enjoy anything lately")),
    Topic("diagnosed", "have you ever been diagnosed with depression", "Depressed",
          ("no never", "no i haven't", "no not at all", "nope"),
          ("yes a few years ago", "yeah i was diagnosed with depression", "yes and i'm still dealing with it",
           "not officially but i think i have it")),
    Topic("appetite", "how has your appetite been lately", "Appetite",
          ("it's normal i eat three meals a day", "good i love food", "pretty normal nothing has changed"),
          ("i barely eat anything", "i've lost my appetite", "i eat way too much when i'm stressed",
           "i forget to eat most days")),
    Topic("focus", "is it easy for you to focus on things like work or reading", "Concentrating",
          ("yeah i can focus pretty well", "it's easy when i'm interested in something",
           "pretty easy i'm very organized"),
          ("no i can't concentrate at all", "it's hard my mind keeps wandering",
           "i read the same page over and over", "i can't focus on anything lately")),
    Topic("day", "what is a typical day like for you", "Moving",
          ("i get up early go to work and then i go {activity}", "busy i'm always on the move",
           "i work then i cook dinner and relax"),
          ("i mostly stay in bed", "slow everything takes me a long time",
           "i can't sit still i feel restless all day", "i don't do much i just sit around")),
    Topic("friend", "how would your best friend describe you", "Failure",
          ("funny and outgoing", "loyal and caring", "they'd say i'm a hard worker and fun to be around",
           "easygoing and kind"),
          ("probably quiet and withdrawn", "i don't really have a best friend anymore",
           "they'd say i'm always down", "i think they'd say i'm a mess")),
    Topic("advice", "what advice would you give to yourself ten or twenty years ago", "Failure",
          ("enjoy the moment and don't worry so much", "save more money", "take more chances"),
          ("don't make the same mistakes i did", "i'd tell myself it doesn't get better",
           "get help earlier")),
    Topic("stress", "how do you cope with stress", None,
          ("i go for a run and it clears my head", "i talk to my friends", "i listen to music and relax"),
          ("i don't cope very well", "i just shut down and stay in bed", "i drink too much sometimes",
           "i get overwhelmed and cry")),
    Topic("regret", "is there anything you regret", "Failure",
          ("not really i'm happy with my choices", "maybe not traveling more but i'm fine",
           "no i learn from everything"),
          ("a lot of things", "i regret pretty much everything", "i regret wasting so many years",
           "i regret letting people down")),
    Topic("memorable", "what's one of your most memorable experiences", None,
          ("going to {place} with my family", "my wedding day", "graduating from college"),
          ("probably when {relative} passed away", "losing my job that was hard",
           "honestly mostly bad things")),
    Topic("changes", "have you noticed any changes in your behavior or thoughts lately", "Depressed",
          ("no not really", "i've been more positive lately", "i'm exercising more so i feel better"),
          ("yes i've been withdrawing from people", "i've been having a lot of negative thoughts",
           "i feel worthless a lot", "i get irritated over nothing")),
    Topic("therapy", "do you feel like therapy is useful", None,
          ("i think it can be helpful for people", "i've never needed it but i think it's good",
           "sure it's good to talk"),
          ("i'm in therapy now and it helps a little", "i tried it but it didn't help",
           "i probably need it to be honest")),
    Topic("work", "what do you do now", "Failure",
          ("i work as {job}", "i'm {job} and i like it", "i'm {job} it keeps me busy"),
          ("i'm unemployed right now", "i lost my job a few months ago", "i work as {job} but i hate it")),
    Topic("argued", "when was the last time you argued with someone", None,
          ("i don't really argue much", "a while ago with {relative} about something small",
           "last week but we made up quickly"),
          ("yesterday i argue with people a lot lately", "i get into fights with {relative} all the time",
           "i don't remember i just avoid people now")),
)  # fmt: skip
_OPENING_TOPICS = ("how_are_you", "origin")

SLOTS = {
    "city": ("los angeles", "chicago", "new york", "san diego", "texas", "ohio", "seattle",
             "the bay area", "atlanta", "phoenix", "boston", "denver"),
    "relative": ("my mom", "my dad", "my sister", "my brother", "my grandmother", "my aunt",
                 "my cousin", "my son", "my daughter"),
    "activity": ("to the beach", "hiking", "to the gym", "to the movies", "fishing", "dancing",
                 "camping", "shopping", "bowling", "to a concert"),
    "job": ("a nurse", "a teacher", "an engineer", "a cook", "a mechanic", "a student",
            "a designer", "a cashier", "a writer", "an accountant"),
    "place": ("mexico", "hawaii", "new york", "europe", "japan", "las vegas", "canada", "florida"),
}  # fmt: skip
NEGATIVE_ADDONS = {
    "NoInterest": ("nothing is fun anymore", "i don't care about much these days",
                   "i lost interest in most things"),
    "Depressed": ("i just feel sad a lot", "i feel kind of hopeless", "i've been really down",
                  "i cry a lot more than i used to"),
    "Sleep": ("i haven't been sleeping well", "i'm up all night", "i can't sleep"),
    "Tired": ("i'm tired all the time", "i have no energy", "i feel exhausted"),
    "Appetite": ("i don't feel like eating", "i've been overeating"),
    "Failure": ("i feel like a failure", "i feel like i let everyone down", "i'm not good at anything"),
    "Concentrating": ("i can't focus", "my mind is all over the place", "i keep forgetting things"),
    "Moving": ("everything feels slow", "i feel restless", "it's hard to get out of bed"),
}  # fmt: skip
POSITIVE_ADDONS = (
    "i'm pretty happy about that", "things are good", "i feel good about it",
    "i'm looking forward to the future", "i have a lot of support", "it keeps me going",
    "i'm grateful for that", "life is pretty good right now", "i really enjoy it",
)  # fmt: skip
NEUTRAL_ADDONS = (
    "i guess that's about it", "it depends on the day", "you know how it is",
    "that's pretty much it", "i don't know", "i think so anyway", "it's hard to say",
)  # fmt: skip
FILLERS = ("um", "uh", "well", "so", "yeah", "i mean", "hmm", "you know")
INTRO = (
    "hi i'm ellie thanks for coming in today",
    "i was created to talk to people in a safe and secure environment",
    "i'll ask a few questions to get us started and please feel free to tell me anything "
    "your answers are totally confidential",
    "are you okay with this",
)
CONSENT = ("yes", "yeah", "sure", "okay", "yes that's fine", "yeah that's okay")
FOLLOW_UPS = ("can you tell me more about that", "why", "how did you feel about that",
              "can you give me an example of that", "how so")  # fmt: skip
BACKCHANNEL_NEUTRAL = ("mhm", "i see", "okay", "uh huh")
BACKCHANNEL_POSITIVE = ("that's good", "that's great", "nice")
BACKCHANNEL_NEGATIVE = ("i'm sorry to hear that", "that sounds really hard", "i see")
CLOSING = ("okay i think i have asked everything i need to", "thanks for sharing your thoughts with me",
           "goodbye")  # fmt: skip
GOODBYES = ("bye", "thank you bye", "thanks", "bye bye")
# Off-transcript and interruption chatter (a research assistant, "RA", in the room).
RA_SETUP = ("okay so she's going to start in a second", "just talk to her like a normal person",
            "i'll be right outside if you need anything", "let me just fix the microphone")  # fmt: skip
RA_INTERRUPT = ("sorry about that we need to restart the system", "one moment please",
                "okay it's working again")  # fmt: skip
PARTICIPANT_ASIDE = ("oh okay", "no problem", "sure", "is it frozen", "okay cool")
SYNC_TOKENS = ("<sync>", "<synch>", "[sync]", "[synch]")
ASIDES = ("<laughs>", "<sigh>", "<clears throat>", "<pause>")

_CLEAN_RE = re.compile(r"<[^>]*>|\[(?:sync|synch|laughter)\]|\bxxxx?\b|\bscrubbed_entry\b")


def clean_text(value: str) -> str:
    """The cleaning rule the ground truth assumes (see CLEANING_RULE)."""
    return " ".join(_CLEAN_RE.sub(" ", value).split())


def _topic_order(config: SynthConfig, sid: int) -> list[Topic]:
    by_key = {t.key: t for t in TOPICS}
    rest = [t for t in TOPICS if t.key not in _OPENING_TOPICS]
    order = [by_key[k] for k in _OPENING_TOPICS]
    rng = _rng(config.seed, sid, _S_TOPICS)
    while len(order) < 4 * len(TOPICS):  # long interviews cycle through fresh shuffles
        order += [rest[i] for i in rng.permutation(len(rest))]
    return order
