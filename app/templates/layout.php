<?php
/**
 * @var \StackGuard\View $view
 * @var string $title
 * @var string $content    already-rendered HTML
 * @var array{id: int, username: string}|null $user
 * @var string $csrf
 * @var string|null $flash
 * @var string $release
 * @var string $environment
 */
?>
<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title><?= $view->e($title) ?> · stackguard</title>
<link rel="stylesheet" href="/assets/app.css">
</head>
<body>
<header>
  <a class="brand" href="/">stackguard</a>
  <?php if (!empty($user)): ?>
    <span class="who">Signed in as <strong><?= $view->e($user['username']) ?></strong></span>
    <form method="post" action="/logout" class="inline">
      <input type="hidden" name="_csrf" value="<?= $view->e($csrf) ?>">
      <button type="submit">Log out</button>
    </form>
  <?php endif; ?>
</header>
<main>
<?php if (!empty($flash)): ?>
  <p class="flash"><?= $view->e($flash) ?></p>
<?php endif; ?>
<?= $content ?>
</main>
<footer>Release <?= $view->e($release) ?> · <?= $view->e($environment) ?></footer>
</body>
</html>
