"""Editable content: what the bot says, as admins change it in the console.

``catalogue`` documents every buyer-facing template (topic, purpose, the variables it
receives); ``template_versions`` keeps admins' versions in the database; ``overrides`` puts
the published versions into every process's renderer and falls back to the file when one
fails; ``template_messages`` maps WeChat template-message ids and fields per purpose;
``autoreplies`` / ``autoreply_store`` hold the keyword rules and ``menu`` the custom menu,
each with versions, read by the bot through a per-process cache. This package does not send
anything and knows nothing of the console's pages.
"""
