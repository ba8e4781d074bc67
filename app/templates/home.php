<?php
/**
 * Anonymous home page: sign-up and log-in forms.
 *
 * @var \StackGuard\View $view
 * @var string $csrf
 * @var array<string, string> $errors    keys "signup", "login"
 * @var string $signupUsername
 * @var string $loginUsername
 */
$errors = $errors ?? [];
?>
<h1>Welcome</h1>
<p>Send short messages to other users. Sign up or log in to start.</p>
<div class="columns">
  <section>
    <h2>Sign up</h2>
    <?php if (isset($errors['signup'])): ?>
      <p class="error"><?= $view->e($errors['signup']) ?></p>
    <?php endif; ?>
    <form method="post" action="/signup">
      <input type="hidden" name="_csrf" value="<?= $view->e($csrf) ?>">
      <label>Username
        <input name="username" required minlength="3" maxlength="64" pattern="[A-Za-z0-9_.\-]{3,64}" autocomplete="username" value="<?= $view->e($signupUsername ?? '') ?>">
      </label>
      <label>Password (at least 8 characters)
        <input type="password" name="password" required minlength="8" autocomplete="new-password">
      </label>
      <button type="submit">Create account</button>
    </form>
  </section>
  <section>
    <h2>Log in</h2>
    <?php if (isset($errors['login'])): ?>
      <p class="error"><?= $view->e($errors['login']) ?></p>
    <?php endif; ?>
    <form method="post" action="/login">
      <input type="hidden" name="_csrf" value="<?= $view->e($csrf) ?>">
      <label>Username
        <input name="username" required autocomplete="username" value="<?= $view->e($loginUsername ?? '') ?>">
      </label>
      <label>Password
        <input type="password" name="password" required autocomplete="current-password">
      </label>
      <button type="submit">Log in</button>
    </form>
  </section>
</div>
