"""Template filters of the approvals pages."""

from django import template

from flashfusion.choices import Role

register = template.Library()


@register.filter
def duration(seconds) -> str:
    """Seconds as a short human duration: 45 → "45 s", 750 → "12 min", 11100 → "3 h 5 min", 187200 → "2 d 4 h"."""
    try:
        seconds = int(seconds)
    except (TypeError, ValueError):
        return "—"
    if seconds < 60:
        return f"{seconds} s"
    minutes = seconds // 60
    if minutes < 60:
        return f"{minutes} min"
    hours, minutes = divmod(minutes, 60)
    if hours < 24:
        return f"{hours} h {minutes} min" if minutes else f"{hours} h"
    days, hours = divmod(hours, 24)
    return f"{days} d {hours} h" if hours else f"{days} d"


@register.filter
def role_label(role: str) -> str:
    """A role value as its label, lower case and plural: "manager" → "managers"."""
    try:
        return f"{Role(role).label.lower()}s"
    except ValueError:
        return role


@register.filter
def duration_minutes(minutes) -> str:
    """Minutes as a short human duration: 1440 → "1 d", 90 → "1 h 30 min"."""
    try:
        return duration(int(minutes) * 60)
    except (TypeError, ValueError):
        return "—"
