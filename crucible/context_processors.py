from crucible import access


def teams(request):
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return {}

    def unread_notifications():
        from crucible.notifications.views import unread_count

        return unread_count(request)

    team = access.active_team(request)
    return {
        "my_teams": access.my_teams(request),
        "unread_notifications": unread_notifications,
        "active_team": team,
        "active_role": access.role_for(request, team.pk) if team else None,
        "can_write": access.can(request, team.pk) if team else False,
    }
