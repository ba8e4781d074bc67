<?php
/**
 * @var \StackGuard\View $view
 * @var int $status
 * @var string $message
 */
?>
<h1><?= $view->e($status) ?></h1>
<p><?= $view->e($message) ?></p>
<p><a href="/">Back to the home page</a></p>
