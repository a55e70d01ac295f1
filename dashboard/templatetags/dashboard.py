from django import template

from campaigns import progress

register = template.Library()


@register.simple_tag
def campaign_progress(campaign, stats):
    return progress.campaign_progress(campaign=campaign, stats=stats)
