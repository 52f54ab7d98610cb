"""Prompt texts for the TTS spoof families, in the languages of the bona fide data.

The bona fide recordings are telephone-system prompts (asterisk sounds), so the
synthetic class speaks the same kind of sentence in the same languages: a
detector must not separate the classes by topic, length or language. Numbers
are filled in at random (seeded) so that no two renderings are identical.
Written for this project.
"""

from __future__ import annotations

import random

TEMPLATES: dict[str, list[str]] = {
    "en": [
        "Please enter your account number, followed by the pound key.",
        "You have {n} new messages.",
        "Your call is important to us. Please stay on the line.",
        "The number you have dialed is not in service.",
        "Press {d} to repeat this message, or {e} to return to the main menu.",
        "Your current balance is {n} dollars and {m} cents.",
        "The conference will begin when the leader arrives.",
        "Please leave a message after the tone. When you are done, hang up.",
        "That extension is busy. Please try again later.",
        "Transfer of {n} dollars to account ending in {m} is confirmed.",
        "Goodbye, and thank you for calling.",
        "Please say or enter the four digit code sent to your phone.",
        "All of our agents are busy. Your estimated waiting time is {d} minutes.",
        "I'm calling about the invoice we discussed this morning, can you approve it today?",
        "Hi, it's me. I need you to send the payment before {d} o'clock.",
    ],
    "es": [
        "Por favor, introduzca su número de cuenta seguido de la tecla almohadilla.",
        "Usted tiene {n} mensajes nuevos.",
        "Su llamada es importante para nosotros. Por favor, no cuelgue.",
        "El número que ha marcado no está en servicio.",
        "Pulse {d} para repetir este mensaje o {e} para volver al menú principal.",
        "Su saldo actual es de {n} euros con {m} céntimos.",
        "La conferencia comenzará cuando llegue el organizador.",
        "Deje su mensaje después de la señal.",
        "La extensión está ocupada. Inténtelo más tarde.",
        "La transferencia de {n} euros ha sido confirmada.",
        "Gracias por su llamada. Adiós.",
        "Todos nuestros agentes están ocupados. El tiempo de espera es de {d} minutos.",
    ],
    "fr": [
        "Veuillez composer votre numéro de compte suivi de la touche dièse.",
        "Vous avez {n} nouveaux messages.",
        "Votre appel est important pour nous. Merci de patienter.",
        "Le numéro que vous avez composé n'est pas attribué.",
        "Appuyez sur {d} pour réécouter ce message, ou sur {e} pour revenir au menu principal.",
        "Votre solde actuel est de {n} euros et {m} centimes.",
        "La conférence commencera à l'arrivée de l'animateur.",
        "Laissez votre message après le bip sonore.",
        "Ce poste est occupé. Veuillez rappeler plus tard.",
        "Le virement de {n} euros est confirmé.",
        "Merci de votre appel. Au revoir.",
        "Tous nos conseillers sont occupés. Le temps d'attente est de {d} minutes.",
    ],
    "it": [
        "Inserire il numero di conto seguito dal tasto cancelletto.",
        "Avete {n} nuovi messaggi.",
        "La vostra chiamata è importante per noi. Restate in linea.",
        "Il numero selezionato è inesistente.",
        "Premere {d} per riascoltare il messaggio, oppure {e} per tornare al menu principale.",
        "Il saldo attuale è di {n} euro e {m} centesimi.",
        "La conferenza inizierà all'arrivo del moderatore.",
        "Lasciate un messaggio dopo il segnale acustico.",
        "L'interno è occupato. Riprovate più tardi.",
        "Il bonifico di {n} euro è stato confermato.",
        "Grazie per aver chiamato. Arrivederci.",
        "Tutti gli operatori sono occupati. L'attesa stimata è di {d} minuti.",
    ],
    "ru": [
        "Пожалуйста, введите номер счёта и нажмите решётку.",
        "У вас {n} новых сообщений.",
        "Ваш звонок очень важен для нас. Пожалуйста, оставайтесь на линии.",
        "Набранный вами номер не обслуживается.",
        "Нажмите {d}, чтобы прослушать сообщение ещё раз, или {e}, чтобы вернуться в главное меню.",
        "Ваш баланс составляет {n} рублей.",
        "Конференция начнётся, когда подключится ведущий.",
        "Оставьте сообщение после звукового сигнала.",
        "Абонент занят. Пожалуйста, перезвоните позже.",
        "Перевод {n} рублей подтверждён.",
        "Спасибо за звонок. До свидания.",
        "Все операторы заняты. Время ожидания {d} минут.",
    ],
}


def render(lang: str, index: int, rng: random.Random) -> str:
    """Sentence ``index`` (mod the template count) of ``lang`` with random numbers."""
    templates = TEMPLATES[lang]
    t = templates[index % len(templates)]
    return t.format(n=rng.randint(2, 999), m=rng.randint(10, 99), d=rng.randint(1, 9), e=rng.randint(1, 9))
