"""The lines the simulated support centre speaks: greetings and whole conversations.

Plain data. Some callers are angry on purpose (cancellations, lawyers, managers):
the dashboard's alerts should have something to find. Some give personal data
(test card numbers, an e-mail address, a phone number), one card over two
segments as callers pause between groups: the dashboard's redaction should
have something to mask.
"""

from __future__ import annotations

from dataclasses import dataclass

ASSISTANTS = ("Support bot", "Billing assistant", "Returns desk")

GREETINGS = (
    "Thank you for calling Acme support, this is Ava. How can I help you today?",
    "Hi, you're through to Acme customer care. What can I do for you?",
    "Hello, Acme help desk here. How can I help you today?",
)

CAMPAIGN_NAMES = (
    "Renewals",
    "Appointment reminders",
    "Satisfaction survey",
    "Payment follow-up",
    "Winback offer",
)


@dataclass(frozen=True)
class Scenario:
    topic: str
    turns: tuple[tuple[str, str], ...]
    angry: bool = False


SCENARIOS = (
    Scenario(
        "password reset",
        (
            ("user", "Hi, I can't log in to my account, it says my password is wrong."),
            (
                "assistant",
                "I'm sorry about that. I can send you a reset link. Is the email "
                "on file still the one ending in gmail dot com?",
            ),
            ("user", "Yes, that's the one."),
            ("assistant", "Done. The link is on its way and stays valid for thirty minutes."),
            ("user", "Got it, thanks a lot."),
            ("assistant", "You're welcome. Is there anything else I can help with?"),
            ("user", "No, that's all. Bye."),
        ),
    ),
    Scenario(
        "double charge",
        (
            ("user", "I was charged twice for my subscription this month."),
            (
                "assistant",
                "Let me check your billing history. I can see two charges of "
                "nineteen ninety-nine on the third.",
            ),
            ("user", "This is ridiculous, it's the second time this happens."),
            (
                "assistant",
                "I understand, and I apologise. I have refunded the duplicate "
                "charge; it will show within five business days.",
            ),
            ("user", "Fine. Make sure it doesn't happen again."),
            ("assistant", "I've added a note to your account. Thank you for your patience."),
        ),
        angry=True,
    ),
    Scenario(
        "cancellation",
        (
            ("user", "This is ridiculous, I want to cancel my account."),
            ("assistant", "I'm sorry to hear that. May I ask what went wrong?"),
            ("user", "Your service has been down three times this week and nobody calls back."),
            (
                "assistant",
                "That is frustrating. I can offer you a month free while we look into the outages.",
            ),
            ("user", "No. Let me speak to a manager."),
            ("assistant", "Of course. I'm transferring you to a supervisor now."),
        ),
        angry=True,
    ),
    Scenario(
        "late delivery",
        (
            ("user", "My order was supposed to arrive on Monday and it's still not here."),
            ("assistant", "Let me look it up. Could you give me the order number?"),
            ("user", "It's four five seven two nine one."),
            (
                "assistant",
                "Thanks. The parcel is at the local depot and will be delivered "
                "tomorrow before noon.",
            ),
            ("user", "Okay, good to know."),
            ("assistant", "I've also refunded the shipping fee for the delay."),
            ("user", "That's nice of you, thank you."),
        ),
    ),
    Scenario(
        "legal threat",
        (
            ("user", "You cut off my internet without any warning."),
            (
                "assistant",
                "I'm sorry. I can see a suspension for an unpaid invoice from last month.",
            ),
            ("user", "I paid that invoice. If this isn't fixed today I'll talk to my lawyer."),
            (
                "assistant",
                "I understand. I've restored your service while billing checks "
                "the payment, and I've opened an urgent case.",
            ),
            ("user", "It had better be back within the hour."),
            ("assistant", "It should be back in a few minutes. You'll get a text when it is."),
        ),
        angry=True,
    ),
    Scenario(
        "plan upgrade",
        (
            ("user", "Hi, I'd like to know what the premium plan includes."),
            ("assistant", "Premium adds unlimited data, priority support and two extra lines."),
            ("user", "How much more would that be per month?"),
            ("assistant", "Ten dollars more than your current plan, so thirty-five in total."),
            ("user", "Sounds good, please upgrade me."),
            ("assistant", "Done. The upgrade is active from today. Anything else?"),
            ("user", "No, that's perfect, thanks."),
        ),
    ),
    Scenario(
        "card update",
        (
            ("user", "Hi, my card expired and I need to give you the new one."),
            ("assistant", "Of course. Please read me the card number."),
            ("user", "It's 4111 1111"),
            ("user", "1111 1111."),
            ("assistant", "Thank you. And an e-mail address for the receipt?"),
            ("user", "ada dot lovelace at example dot com, or call me on 415 555 0132."),
            ("assistant", "Done. The new card is on file and the receipt is on its way."),
        ),
    ),
    Scenario(
        "return request",
        (
            ("user", "I want to return a jacket, it's the wrong size."),
            ("assistant", "No problem. I'll email you a prepaid return label."),
            ("user", "Can I get a bigger size instead of a refund?"),
            (
                "assistant",
                "Yes, I've reserved the large for you; it ships when we scan your return.",
            ),
            ("user", "Great, thank you."),
        ),
    ),
    Scenario(
        "repeated outage",
        (
            ("user", "My phone line keeps dropping in the middle of calls."),
            ("assistant", "I'm sorry about that. Let me run a line test."),
            ("user", "I've done this three times already, this is unacceptable."),
            (
                "assistant",
                "The test shows a fault at the street cabinet. An engineer can "
                "come tomorrow between eight and twelve.",
            ),
            ("user", "Let me speak to a manager, I want compensation."),
            ("assistant", "I'll ask a supervisor to call you back today about compensation."),
        ),
        angry=True,
    ),
)
