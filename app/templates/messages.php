<?php
/**
 * Logged-in view: compose form, received and sent messages.
 *
 * @var \StackGuard\View $view
 * @var string $csrf
 * @var string|null $error
 * @var string $to
 * @var string $body
 * @var list<array{id: int, from: string, to: string, body: string, created_at: string}> $inbox
 * @var list<array{id: int, from: string, to: string, body: string, created_at: string}> $sent
 */
?>
<h1>Messages</h1>
<section>
  <h2>New message</h2>
  <?php if (!empty($error)): ?>
    <p class="error"><?= $view->e($error) ?></p>
  <?php endif; ?>
  <form method="post" action="/messages">
    <input type="hidden" name="_csrf" value="<?= $view->e($csrf) ?>">
    <label>To (username)
      <input name="to" required maxlength="64" value="<?= $view->e($to ?? '') ?>">
    </label>
    <label>Message
      <textarea name="body" required maxlength="5000" rows="4"><?= $view->e($body ?? '') ?></textarea>
    </label>
    <button type="submit">Send</button>
  </form>
</section>
<section>
  <h2>Inbox (<?= $view->e(count($inbox)) ?>)</h2>
  <?php if (count($inbox) === 0): ?>
    <p class="muted">No messages yet.</p>
  <?php else: ?>
    <ul class="messages">
      <?php foreach ($inbox as $message): ?>
        <li>
          <div class="meta">From <strong><?= $view->e($message['from']) ?></strong> · <?= $view->time($message['created_at']) ?></div>
          <div class="body"><?= $view->e($message['body']) ?></div>
        </li>
      <?php endforeach; ?>
    </ul>
  <?php endif; ?>
</section>
<section>
  <h2>Sent (<?= $view->e(count($sent)) ?>)</h2>
  <?php if (count($sent) === 0): ?>
    <p class="muted">Nothing sent yet.</p>
  <?php else: ?>
    <ul class="messages">
      <?php foreach ($sent as $message): ?>
        <li>
          <div class="meta">To <strong><?= $view->e($message['to']) ?></strong> · <?= $view->time($message['created_at']) ?></div>
          <div class="body"><?= $view->e($message['body']) ?></div>
        </li>
      <?php endforeach; ?>
    </ul>
  <?php endif; ?>
</section>
